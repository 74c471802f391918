/* keyring.h — the keyring: where marlsim's secret keys live, and the only
 * module that reads, creates or changes them.
 *
 * A keyring holds versioned HMAC-SHA256 key generations (the pseudonym keys
 * of sim/pseudo.h), one Ed25519 signing key and one commitment key. It comes
 * from one of three sources (ms_keyring_resolve picks which):
 *   FILE  a text file (format below) of mode 0600 or stricter, owned by the
 *         effective user, a regular file named directly (never a symlink);
 *   CMD   the standard output of a command (e.g. a password manager), parsed
 *         in memory and never written anywhere;
 *   DEV   the development keyring, derived from the run's seed (no file, no
 *         signing key; for experiments whose pseudonyms protect nothing).
 *
 * Secrets: key bytes never appear in an error message (a message about a
 * keyring line names the origin, the line number and what is wrong, never the
 * line's content), and this module never prints or logs. A loaded keyring
 * owns its secrets; ms_keyring_free cleanses them (OPENSSL_cleanse), and so
 * does every internal buffer that held key text. A run never writes the
 * keyring: only ms_keyring_create, ms_keyring_rotate and ms_keyring_destroy
 * do, and only by atomic replacement (a temporary file created 0600 in the
 * same directory, written, fsync'ed, moved into place by link/rename, then
 * the directory fsync'ed), so a reader sees the old keyring or the new one,
 * never a mixture, and a crash leaves at most a "PATH.tmp-XXXXXX" file.
 *
 * ---- File format, version 1 ------------------------------------------------
 *
 *   # comments and blank lines anywhere are ignored
 *   marlsim-keyring 1                        the first line that is not a comment or blank
 *   signing NAME CREATED PRIVATE_B64         exactly one
 *   commit CREATED KEY_B64                   exactly one
 *   hmac GEN CREATED FINGERPRINT KEY_B64     generations 0, 1, 2, ... (at least generation 0)
 *   hmac GEN CREATED FINGERPRINT destroyed   a destroyed generation
 *
 * Lines end with '\n' (the last one too); CR and NUL bytes are refused
 * anywhere, so are CRLF files. A comment line starts with '#' in its first
 * column and may hold any other bytes; a blank line is empty (a line of only
 * spaces is refused). Record lines hold printable ASCII (0x20..0x7e) only:
 * fields separated by exactly one space, no leading or trailing space. After
 * the header the records may come in any order, except that hmac lines come
 * in generation order: 0, 1, 2, ... without gaps or repeats.
 *   NAME         the signer's name: 1..128 bytes 0x21..0x7e without '+' (a
 *                C2SP signed-note key name).
 *   CREATED      when the key was made, UTC "YYYY-MM-DDTHH:MM:SSZ" (a real
 *                calendar date; seconds 00..59).
 *   PRIVATE_B64  strict base64 (base/b64.h: canonical, '=' padded) of the
 *                32-byte Ed25519 private key (the RFC 8032 seed).
 *   KEY_B64      strict base64 of a 32-byte key.
 *   GEN          the generation number in decimal, no leading zeros.
 *   FINGERPRINT  32 lowercase hex digits = the first 16 bytes of
 *                SHA-256("marlsim-key-fingerprint-v1" || key); checked against
 *                the key on load. A destroyed generation keeps it, so lakes
 *                made with the key can still name it.
 * The key id of generation g is "k<g>" ("k0", "k12"); in the development
 * keyring it is "dev<g>". The file is at most 1 MiB (1048576 bytes). The
 * writer puts a comment at the top saying the file is secret.
 *
 * ---- Outcomes ------------------------------------------------------------
 *
 * Every function that takes an ms_err returns MS_OK or:
 *   MS_EINPUT  a refused source or value: a bad spec, a missing keyring, a
 *              symlink, a non-regular file, a file not owned by the effective
 *              user or accessible to group/others (the message says the fix,
 *              e.g. "chmod 600 PATH"), a parse error "ORIGIN:LINE: what is
 *              wrong" (ORIGIN = the path, or "cmd:COMMAND"), a command that
 *              failed (its exit status or signal is named, never its output),
 *              a generation that does not exist, an operation the source does
 *              not support;
 *   MS_ECHECK  the key of a destroyed generation was asked for;
 *   MS_EIO     the system or libcrypto failed (the message says which call).
 * Nothing is written on failure (rotate/destroy remove their temporary file).
 *
 * Ownership: the caller owns every argument; strings are copied. An
 * ms_keyring is owned by its caller until ms_keyring_free. Nothing mutates a
 * loaded keyring, so several threads may read one.
 */
#ifndef MS_KEYS_KEYRING_H
#define MS_KEYS_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/file.h" /* MS_PATH_MAX */

#define MS_KEYRING_MAX_BYTES (1024 * 1024) /* the largest keyring file or command output */
#define MS_KEYRING_NAME_MAX 128            /* signer name bytes */

/* ---- Where the keyring comes from ---------------------------------------- */

enum { MS_KEYRING_FILE, MS_KEYRING_CMD, MS_KEYRING_DEV };

typedef struct ms_keyring_source {
    int kind;                    /* MS_KEYRING_FILE, _CMD or _DEV */
    char spec[MS_PATH_MAX + 1];  /* the path (FILE) or the command (CMD, without "cmd:"); "" for DEV */
    char origin[64];             /* where it came from: "--keyring", "[keys] keyring", "MARLSIM_KEYRING", "default" */
} ms_keyring_source;

/* Resolution, first match wins: opt (the --keyring value; NULL = not given,
 * "" is refused), cfg (the config's [keys] keyring; NULL or "" = not set),
 * getenv("MARLSIM_KEYRING") (unset or empty = not set), else the default
 * ${XDG_DATA_HOME:-$HOME/.local/share}/marlsim/keyring (XDG_DATA_HOME only
 * when it is an absolute path, as the XDG spec says). A value is "dev" (the
 * development keyring), "cmd:COMMAND" (COMMAND non-empty) or a path, used as
 * given (relative to the working directory; no "~" expansion); a file
 * literally named dev is written ./dev, one named cmd:x ./cmd:x.
 * MS_EINPUT (message names the origin) when HOME is needed but unset, empty
 * or relative, a path or command is longer than MS_PATH_MAX bytes, --keyring
 * is empty, or "cmd:" has no command. *src is zeroed first. */
int ms_keyring_resolve(const char *opt, const char *cfg, ms_keyring_source *src, ms_err *e);

/* The default path alone (for messages and `keys init`), into out (cap
 * bytes). MS_EINPUT when HOME is needed but unusable, or it does not fit. */
int ms_keyring_default_path(char *out, size_t cap, ms_err *e);

/* ---- Loading ------------------------------------------------------------- */

typedef struct ms_keyring ms_keyring; /* opaque; owns its secrets */

/* Loads src into *out (NULL on failure).
 * FILE: opened with O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (a FIFO cannot block),
 *   then the descriptor is fstat'ed (no race between check and read): it must
 *   be a regular file, st_uid == geteuid() and (mode & 077) == 0. A symlink
 *   (the last path component), a missing file (the message says `marlsim keys
 *   init` creates one), a directory, FIFO, socket or device, another owner
 *   and a too-open mode are each MS_EINPUT with their own message.
 * CMD: runs /bin/sh -c COMMAND (posix_spawn; stdin /dev/null, stdout a pipe,
 *   stderr inherited, SIGPIPE at its default), reads at most 1 MiB of its
 *   output (more is refused; the command is then killed), and waits for it. A
 *   non-zero exit or death by a signal is MS_EINPUT naming the command and
 *   the status, never the output. The text is parsed in memory only.
 * DEV: MS_EINPUT (use ms_keyring_dev).
 * Parse errors are MS_EINPUT "ORIGIN:LINE: what is wrong" with the first
 * offending line; a missing record ("no commit line") is reported at the
 * last line, a source over 1 MiB at the line that crosses the limit. */
int ms_keyring_load(const ms_keyring_source *src, ms_keyring **out, ms_err *e);

/* Parses keyring text held in memory (the format above), as a CMD source's
 * output is parsed: text[0..n) need not be NUL-terminated; origin names it
 * in messages ("ORIGIN:LINE: ..."). The same outcomes as ms_keyring_load's
 * parsing: MS_OK and *out (NULL on failure); MS_EINPUT for any parse error
 * or n over 1 MiB; MS_EIO when memory or libcrypto fails. For callers that
 * already hold the text (and the fuzz harness of the parser); the caller
 * cleanses its own copy of the text. */
int ms_keyring_parse(const char *text, size_t n, const char *origin, ms_keyring **out, ms_err *e);

/* The development keyring of seed: generation g's key =
 * SHA-256("marlsim-dev-key-v1" || seed as u64 LE || g as u64 LE) (the
 * derivation of ms_keys_dev, so dev lakes keep their pseudonyms), key id
 * "dev<g>", every g >= 0 exists, none is destroyed, created times are "";
 * no signing key; commitment key = SHA-256("marlsim-dev-commit-v1" || seed
 * as u64 LE). MS_EIO only when memory or libcrypto fails. */
int ms_keyring_dev(uint64_t seed, ms_keyring **out, ms_err *e);

/* Cleanses and frees every secret of k. NULL is fine. */
void ms_keyring_free(ms_keyring *k);

/* ---- Creating and changing a keyring FILE (never CMD or DEV) ------------- */

/* Creates a new keyring at path: a fresh Ed25519 signing key named name (see
 * NAME), a commitment key and HMAC generation 0, from RAND_priv_bytes;
 * created times from the wall clock (UTC). Refuses (MS_EINPUT) a bad name, a
 * path longer than MS_PATH_MAX or ending in '/', and anything existing at
 * path (even a dangling symlink). Creates the missing parent directory of the
 * file with mode 0700 and its missing ancestors with 0755 (both less the
 * umask), as `mkdir -p` would; never changes an existing directory. The file
 * appears atomically (temporary + fsync + link, or rename where the
 * filesystem has no hard links), mode 0600. */
int ms_keyring_create(const char *path, const char *name, ms_err *e);

/* Appends HMAC generation N (= the current count; *gen = N, may be NULL) with
 * a fresh key. Read-modify-write under an exclusive flock on the keyring
 * file: after the lock is taken the path must still name the locked inode
 * (else it was replaced meanwhile: retried on the new file). The same checks
 * as load (symlink, type, owner, mode, format) apply; the file is rewritten
 * atomically with every other byte unchanged (comments included) and keeps
 * its owner permission bits (0600 or 0400 ...). MS_EINPUT also when the
 * result would exceed 1 MiB. */
int ms_keyring_rotate(const char *path, int *gen, ms_err *e);

/* Destroys generation gen (crypto-shredding): its KEY_B64 field becomes
 * "destroyed" in an atomic rewrite done as rotate's; GEN, CREATED and
 * FINGERPRINT stay, and every other byte is unchanged. The old bytes may
 * survive in filesystem blocks, snapshots and backups: destroy removes them
 * from the keyring, not from the disk. MS_EINPUT when there is no such
 * generation or it is already destroyed. */
int ms_keyring_destroy(const char *path, int gen, ms_err *e);

/* ---- Reading a loaded keyring (k non-NULL) ------------------------------- */

int ms_keyring_is_dev(const ms_keyring *k);
/* The path, "cmd:COMMAND" or "dev" — for messages. Lives as long as k. */
const char *ms_keyring_origin(const ms_keyring *k);
/* FILE/CMD: the number of generations (destroyed ones included); DEV: INT_MAX. */
int ms_keyring_generations(const ms_keyring *k);

typedef struct ms_key_generation {
    int gen;
    char key_id[16];      /* "k<gen>" or "dev<gen>" */
    char fingerprint[33]; /* 32 lowercase hex digits */
    char created[21];     /* "YYYY-MM-DDTHH:MM:SSZ"; "" for DEV */
    int destroyed;
} ms_key_generation;

/* Describes generation gen (never its key bytes). MS_EINPUT when there is no
 * such generation. */
int ms_keyring_generation(const ms_keyring *k, int gen, ms_key_generation *info, ms_err *e);
/* The generation whose key id is key_id ("k3"; "dev3" in DEV); MS_EINPUT
 * when the keyring has none ("key generation k3 is not in keyring PATH"). */
int ms_keyring_find(const ms_keyring *k, const char *key_id, ms_key_generation *info, ms_err *e);
/* The key of generation gen into out: MS_EINPUT when absent, MS_ECHECK when
 * destroyed (out is zeroed then). The caller cleanses out when done. */
int ms_keyring_hmac_key(const ms_keyring *k, int gen, unsigned char out[32], ms_err *e);
/* The commitment key into out (every source has one). */
int ms_keyring_commit_key(const ms_keyring *k, unsigned char out[32], ms_err *e);

/* Signing. DEV has no signer: ms_keyring_can_sign 0, ms_keyring_signer_name
 * "", ms_keyring_public_key and ms_keyring_sign MS_EINPUT. The private key
 * is held as an EVP_PKEY made at load, so signing does not re-parse it. */
int ms_keyring_can_sign(const ms_keyring *k);
const char *ms_keyring_signer_name(const ms_keyring *k);
int ms_keyring_public_key(const ms_keyring *k, unsigned char pub[32], ms_err *e);
/* Ed25519 (RFC 8032, pure: no pre-hash) signature of msg[0..n) into sig. */
int ms_keyring_sign(const ms_keyring *k, const void *msg, size_t n, unsigned char sig[64], ms_err *e);

#endif
