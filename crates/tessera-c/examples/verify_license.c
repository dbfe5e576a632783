/* A product written in C checks its license file at start-up, built against the installed
 * library (docs/INTEGRATION.md, "Adding the library to your build"):
 *
 *   cc -o verify_license examples/verify_license.c $(pkg-config --cflags --libs tessera)
 *   ./verify_license /etc/acme/acme.license
 */
#include <stdio.h>
#include <stdlib.h>

#include "tessera.h"

/* The vendor's public keys, compiled in (the text of the vendor's .pub file). */
static const char *VENDOR_TRUST =
#include "vendor_trust.inc"
    ;

/* The whole file at `path` (NULL if it cannot be read), its length in `*len`. */
static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  unsigned char *bytes = NULL;
  size_t capacity = 0;
  *len = 0;
  for (;;) {
    if (*len == capacity) {
      capacity = capacity ? 2 * capacity : 4096;
      unsigned char *more = realloc(bytes, capacity);
      if (more == NULL) break;
      bytes = more;
    }
    size_t n = fread(bytes + *len, 1, capacity - *len, f);
    if (n == 0) break;
    *len += n;
  }
  int failed = ferror(f) || bytes == NULL || *len == capacity;
  fclose(f);
  if (failed) {
    free(bytes);
    return NULL;
  }
  return bytes;
}

int main(int argc, char **argv) {
  /* Compiled with the tessera.h of another version than the library loaded: stop, saying so. */
  if (tessera_version_check(TESSERA_VERSION) != TESSERA_CODE_OK) {
    fprintf(stderr, "%s\n", tessera_last_error());
    return 70;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: %s LICENSE_FILE\n", argv[0]);
    return 64;
  }
  size_t len = 0;
  unsigned char *license = read_file(argv[1], &len);
  if (license == NULL) {
    perror(argv[1]);
    return 66;
  }
  TesseraTrust *trust = NULL;
  if (tessera_trust_parse(VENDOR_TRUST, &trust) != TESSERA_CODE_OK) {
    fprintf(stderr, "built-in trust set: %s\n", tessera_last_error());
    free(license);
    return 70;
  }
  TesseraCheck *check = NULL;
  TesseraCode code = tessera_verify_license(trust, license, len, "acme-hub", tessera_now(), &check);
  tessera_trust_free(trust);
  free(license);
  if (code != TESSERA_CODE_OK) {
    fprintf(stderr, "cannot check the license: %s\n", tessera_last_error());
    return 70;
  }
  printf("license %s: %s (Tessera %s)\n", tessera_check_status(check), tessera_check_reason(check),
         tessera_version());
  int ok = tessera_check_permits_running(check);
  tessera_check_free(check);
  return ok ? 0 : 1;
}
