/* A hub application written in C gates its start-up on the hub's standing (docs/INTEGRATION.md).
 *
 *   cc -o hub_start examples/hub_start.c $(pkg-config --cflags --libs tessera)
 *   ./hub_start /var/lib/tessera-hub/status.sock
 */
#include <stdio.h>

#include "tessera.h"

/* The vendor's public keys, compiled in (the text of the vendor's .pub file). */
static const char *VENDOR_TRUST =
#include "vendor_trust.inc"
    ;

int main(int argc, char **argv) {
  /* Compiled with the tessera.h of another version than the library loaded: stop, saying so. */
  if (tessera_version_check(TESSERA_VERSION) != TESSERA_CODE_OK) {
    fprintf(stderr, "%s\n", tessera_last_error());
    return 70;
  }
  const char *socket = argc > 1 ? argv[1] : "/var/lib/tessera-hub/status.sock";
  TesseraTrust *trust = NULL;
  if (tessera_trust_parse(VENDOR_TRUST, &trust) != TESSERA_CODE_OK) {
    fprintf(stderr, "built-in trust set: %s\n", tessera_last_error());
    return 70;
  }
  TesseraCheck *hub = NULL;
  TesseraCode code = tessera_hub_status(socket, trust, "acme-hub", 2000 /* ms */, tessera_now(), &hub);
  tessera_trust_free(trust);
  if (code != TESSERA_CODE_OK) {
    /* No answer at all (agent not running, no permission): do not start. */
    fprintf(stderr, "cannot ask the license agent: %s\n", tessera_last_error());
    return 69;
  }
  printf("license %s: %s\n", tessera_check_status(hub), tessera_check_reason(hub));
  int ok = 0;
  switch (tessera_check_status_code(hub)) {
    case TESSERA_STATUS_GRACE:
      printf("warning: the license server has not been reached; %lld seconds of grace left\n",
             (long long)tessera_check_grace_left_secs(hub));
      ok = 1;
      break;
    case TESSERA_STATUS_VALID:
      ok = 1;
      break;
    default: /* every other word, and any word newer than this code: do not run */
      break;
  }
  if (ok && tessera_check_has_feature(hub, "sso")) {
    printf("single sign-on enabled\n");
  }
  tessera_check_free(hub);
  return ok ? 0 : 1;
}
