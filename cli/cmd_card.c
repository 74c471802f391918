/* placeholder */
#include "cli/cli.h"
int cmd_card(int argc, char **argv) { (void)argc; (void)argv; return EXIT_USAGE; }
