/* marlsim keys: create and manage a keyring (SPEC §6). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "keys/keyring.h"
#include "ledger/note.h"

static const char usage[] =
    "usage: marlsim keys init [--name NAME] [--keyring PATH]\n"
    "       marlsim keys rotate|list|pubkey [--keyring K] [--json]\n"
    "       marlsim keys destroy GEN [--keyring PATH]\n"
    "\n"
    "A keyring (mode 0600, owned by you, never a symlink) holds versioned HMAC\n"
    "key generations (pseudonyms, broadcast MACs, the secret streams raw\n"
    "personal data are drawn from), one commitment key (salts of the ledger's\n"
    "entries) and one Ed25519 signing key (checkpoints). Lakes record key\n"
    "ids and fingerprints only. Which keyring: --keyring K, else $MARLSIM_KEYRING,\n"
    "else ${XDG_DATA_HOME:-~/.local/share}/marlsim/keyring.\n"
    "\n"
    "  init      create a keyring (signing key NAME, default marlsim; one generation)\n"
    "  rotate    add the next key generation (runs use the newest ones; a run that\n"
    "            rotates keys every E episodes needs them created beforehand)\n"
    "  list      generations, fingerprints, creation time, destroyed or not\n"
    "  pubkey    the signing key's verifier key (NAME+ID+KEY), for verify --pubkey\n"
    "  destroy   erase generation GEN's key (crypto-shredding): pseudonyms made\n"
    "            under it can no longer be linked or re-derived, the raw values\n"
    "            behind them can no longer be regenerated, and runs that used it\n"
    "            can no longer be reproduced; their lakes still verify\n"
    "The keyring is rewritten atomically; a keyring from cmd: is read-only.\n";

/* The keyring file a changing subcommand works on. */
static int file_path(const char *opt, char *path, size_t n)
{
    ms_keyring_source src;
    ms_err e;
    if (ms_keyring_resolve(opt, NULL, &src, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    if (src.kind != MS_KEYRING_FILE) {
        cli_error("the keyring from %s is %s, which this command cannot write (it changes a keyring file)", src.origin,
                  src.kind == MS_KEYRING_DEV ? "the development key" : "a command's output");
        return EXIT_USAGE;
    }
    snprintf(path, n, "%s", src.spec);
    return EXIT_OK;
}

static int print_pubkey(const ms_keyring *kr, int json)
{
    ms_err e;
    unsigned char pub[32];
    char vk[MS_NOTE_NAME_MAX + 80];
    if (!ms_keyring_can_sign(kr)) {
        cli_error("%s has no signing key (the development key never signs)", ms_keyring_origin(kr));
        return EXIT_USAGE;
    }
    if (ms_keyring_public_key(kr, pub, &e) ||
        ms_note_verifier_format(ms_keyring_signer_name(kr), pub, vk, sizeof vk, &e)) {
        cli_error("%s", e.msg);
        return EXIT_USAGE;
    }
    if (json) {
        printf("{\"pubkey\":");
        cli_json_string(stdout, vk);
        printf("}\n");
    } else {
        printf("%s\n", vk);
    }
    return EXIT_OK;
}

static int list(const ms_keyring *kr, int json)
{
    ms_err e;
    int n = ms_keyring_generations(kr);
    if (json) {
        printf("{\"keyring\":");
        cli_json_string(stdout, ms_keyring_origin(kr));
        printf(",\"signer\":");
        if (ms_keyring_can_sign(kr))
            cli_json_string(stdout, ms_keyring_signer_name(kr));
        else
            printf("null");
        printf(",\"generations\":[");
    } else {
        printf("keyring: %s\n", ms_keyring_origin(kr));
        if (ms_keyring_can_sign(kr)) {
            printf("signing key: ");
            if (print_pubkey(kr, 0))
                return EXIT_USAGE;
        }
        printf("%-4s %-8s %-32s %-20s %s\n", "gen", "key id", "fingerprint", "created", "state");
    }
    for (int g = 0; g < n; g++) {
        ms_key_generation info;
        if (ms_keyring_generation(kr, g, &info, &e)) {
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
        if (json)
            printf("%s{\"gen\":%d,\"key_id\":\"%s\",\"fingerprint\":\"%s\",\"created\":\"%s\",\"destroyed\":%s}",
                   g ? "," : "", info.gen, info.key_id, info.fingerprint, info.created,
                   info.destroyed ? "true" : "false");
        else
            printf("%-4d %-8s %-32s %-20s %s\n", info.gen, info.key_id, info.fingerprint, info.created,
                   info.destroyed ? "DESTROYED" : "usable");
    }
    if (json)
        printf("]}\n");
    return EXIT_OK;
}

int cmd_keys(int argc, char **argv)
{
    cli_args a;
    int rc = cli_parse(argc, argv, CLI_OPT_KEYRING | CLI_OPT_NAME | CLI_OPT_JSON, usage, "a subcommand", 1, 2, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    const char *sub = a.pos[0];
    ms_err e;
    char path[MS_PATH_MAX + 1];
    int is_destroy = !strcmp(sub, "destroy");
    if (a.npos != 1 + is_destroy)
        return cli_usage(usage, is_destroy ? "keys destroy needs the generation number" : "keys %s takes no argument",
                         sub);
    if (a.name && strcmp(sub, "init"))
        return cli_usage(usage, "--name is for keys init");
    if (!strcmp(sub, "init")) {
        if ((rc = file_path(a.keyring, path, sizeof path)))
            return rc;
        if (ms_keyring_create(path, a.name ? a.name : "marlsim", &e)) {
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
        printf("created keyring %s (mode 0600): signing key, commitment key, key generation 0\n", path);
        ms_keyring_source src = {MS_KEYRING_FILE, "", "init"};
        snprintf(src.spec, sizeof src.spec, "%s", path);
        ms_keyring *kr;
        if (ms_keyring_load(&src, &kr, &e)) {
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
        printf("verifier key (share it with whoever verifies your lakes): ");
        rc = print_pubkey(kr, 0);
        ms_keyring_free(kr);
        return rc;
    }
    if (!strcmp(sub, "rotate")) {
        int gen;
        if ((rc = file_path(a.keyring, path, sizeof path)))
            return rc;
        if (ms_keyring_rotate(path, &gen, &e)) {
            cli_error("%s", e.msg);
            return EXIT_USAGE;
        }
        if (a.json)
            printf("{\"keyring\":\"%s\",\"generation\":%d,\"key_id\":\"k%d\"}\n", path, gen, gen);
        else
            printf("added key generation %d (key id k%d) to %s\n", gen, gen, path);
        return EXIT_OK;
    }
    if (is_destroy) {
        char *end;
        long gen = strtol(a.pos[1], &end, 10);
        if (!*a.pos[1] || *end || gen < 0 || gen > 1000000)
            return cli_usage(usage, "keys destroy: '%s' is not a generation number", a.pos[1]);
        if ((rc = file_path(a.keyring, path, sizeof path)))
            return rc;
        if (ms_keyring_destroy(path, (int)gen, &e)) {
            cli_error("%s", e.msg);
            return cli_exit_for(MS_EINPUT);
        }
        printf("destroyed key generation %ld (k%ld) of %s: pseudonyms made under it can no longer be linked or "
               "re-derived, and runs that used it can no longer be reproduced; their lakes still verify\n", gen, gen,
               path);
        return EXIT_OK;
    }
    if (strcmp(sub, "list") && strcmp(sub, "pubkey"))
        return cli_usage(usage, "unknown keys subcommand '%s'", sub);
    ms_keyring *kr;
    if ((rc = cli_keyring(a.keyring, NULL, 0, CLI_KR_EXISTING, &kr)))
        return rc;
    rc = !strcmp(sub, "list") ? list(kr, a.json) : print_pubkey(kr, a.json);
    ms_keyring_free(kr);
    return rc;
}
