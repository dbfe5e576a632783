/* Every argument of every call, checked: NULL pointers, non-UTF-8 and empty strings, times
 * and deadlines out of range are TESSERA_CODE_BAD_ARGUMENT with a message naming the argument
 * and no handle; the status as an enum; the hub call's deadline against an agent that accepts
 * and never answers. Run by tests/c/main.rs (also under valgrind: no error, no leak). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tessera.h"

static int failures = 0;

#define EXPECT(cond, ...)                                                     \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond);       \
      fprintf(stderr, __VA_ARGS__);                                           \
      fprintf(stderr, "\n");                                                  \
      failures++;                                                             \
    }                                                                         \
  } while (0)

static const char *env(const char *name) {
  const char *value = getenv(name);
  if (value == NULL) {
    fprintf(stderr, "%s is not set: run this from the test (tests/c/main.rs)\n", name);
    exit(2);
  }
  return value;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  char *text = malloc(65536);
  size_t n = fread(text, 1, 65535, f);
  fclose(f);
  text[n] = '\0';
  if (len) *len = n;
  return text;
}

/* A refused call: the code, no handle, and a message that names `what`. */
static void refused(const char *row, TesseraCode code, const void *handle, const char *what) {
  EXPECT(code == TESSERA_CODE_BAD_ARGUMENT, "%s: code %d (%s)", row, code,
         tessera_last_error() ? tessera_last_error() : "no message");
  EXPECT(handle == NULL, "%s: a handle on error", row);
  EXPECT(tessera_last_error() != NULL && strncmp(tessera_last_error(), what, strlen(what)) == 0,
         "%s: the message names %s: %s", row, what, tessera_last_error() ? tessera_last_error() : "NULL");
}

static double ms_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) * 1000.0 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

int main(void) {
  const char *not_utf8 = "\xff\xfe/bad";
  char *trust_text = slurp(env("TESSERA_TEST_TRUST"), NULL);
  size_t len;
  char *license = slurp(env("TESSERA_TEST_LICENSE"), &len);
  const uint8_t *bytes = (const uint8_t *)license;
  const char *product = env("TESSERA_TEST_PRODUCT");
  int64_t now = strtoll(env("TESSERA_TEST_NOW"), NULL, 10);
  const char *nowhere = "/nonexistent/hub.sock";

  /* The version: the library's is the header's; a header of another series, or newer than
   * the library, is refused in one sentence naming both versions. */
  EXPECT(strcmp(tessera_version(), TESSERA_VERSION) == 0, "library %s, header %s", tessera_version(), TESSERA_VERSION);
  EXPECT(tessera_version() == tessera_version(), "one static string");
  EXPECT(tessera_version_check(TESSERA_VERSION) == TESSERA_CODE_OK && tessera_last_error() == NULL, "%s", tessera_last_error());
  refused("version: NULL", tessera_version_check(NULL), NULL, "header_version");
  refused("version: non-UTF-8", tessera_version_check(not_utf8), NULL, "header_version");
  char newer[64];
  snprintf(newer, sizeof newer, "%d.%d.%d", TESSERA_VERSION_MAJOR, TESSERA_VERSION_MINOR, TESSERA_VERSION_PATCH + 1);
  const char *others[] = {newer, "99.0.0", "", "0.1", "garbage"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    refused("version: another", tessera_version_check(others[i]), NULL, "header_version");
    EXPECT(strstr(tessera_last_error(), tessera_version()) != NULL && strstr(tessera_last_error(), others[i]) != NULL,
           "the sentence names both versions: %s", tessera_last_error());
  }

  TesseraTrust *trust = NULL;
  EXPECT(tessera_trust_parse(trust_text, &trust) == TESSERA_CODE_OK, "%s", tessera_last_error());

  /* tessera_trust_parse */
  TesseraTrust *t = NULL;
  refused("trust: NULL text", tessera_trust_parse(NULL, &t), t, "trust text");
  refused("trust: non-UTF-8 text", tessera_trust_parse(not_utf8, &t), t, "trust text");
  refused("trust: NULL out", tessera_trust_parse(trust_text, NULL), NULL, "out");
  EXPECT(tessera_trust_parse("", &t) == TESSERA_CODE_BAD_TRUST && t == NULL, "empty trust: %s", tessera_last_error());

  /* tessera_verify_license */
  TesseraCheck *c = NULL;
  refused("verify: NULL trust", tessera_verify_license(NULL, bytes, len, NULL, now, &c), c, "trust");
  refused("verify: NULL license", tessera_verify_license(trust, NULL, len, NULL, now, &c), c, "license");
  refused("verify: NULL out", tessera_verify_license(trust, bytes, len, NULL, now, NULL), NULL, "out");
  refused("verify: non-UTF-8 product", tessera_verify_license(trust, bytes, len, not_utf8, now, &c), c, "product");
  refused("verify: empty product", tessera_verify_license(trust, bytes, len, "", now, &c), c, "product");
  refused("verify: no product id", tessera_verify_license(trust, bytes, len, "Not A Product!", now, &c), c, "product");
  const int64_t bad_times[] = {-1, INT64_MIN, INT64_MAX, 253402300800LL};
  for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
    refused("verify: time out of range", tessera_verify_license(trust, bytes, len, NULL, bad_times[i], &c), c, "now");
  }

  /* tessera_runner_check */
  refused("runner: NULL state_dir", tessera_runner_check(NULL, "keyutils", now, &c), c, "state_dir");
  refused("runner: empty state_dir", tessera_runner_check("", "keyutils", now, &c), c, "state_dir");
  refused("runner: non-UTF-8 state_dir", tessera_runner_check(not_utf8, "keyutils", now, &c), c, "state_dir");
  refused("runner: unknown keystore", tessera_runner_check("/nonexistent", "floppy", now, &c), c, "keystore");
  refused("runner: empty keystore", tessera_runner_check("/nonexistent", "", now, &c), c, "keystore");
  refused("runner: non-UTF-8 keystore", tessera_runner_check("/nonexistent", not_utf8, now, &c), c, "keystore");
  refused("runner: negative now", tessera_runner_check("/nonexistent", "keyutils", -1, &c), c, "now");
  refused("runner: NULL out", tessera_runner_check("/nonexistent", "keyutils", now, NULL), NULL, "out");

  /* tessera_hub_status */
  const int64_t ms = TESSERA_HUB_TIMEOUT_MS_DEFAULT;
  refused("hub: NULL socket", tessera_hub_status(NULL, trust, NULL, ms, now, &c), c, "socket");
  refused("hub: empty socket", tessera_hub_status("", trust, NULL, ms, now, &c), c, "socket");
  refused("hub: non-UTF-8 socket", tessera_hub_status(not_utf8, trust, NULL, ms, now, &c), c, "socket");
  refused("hub: NULL trust", tessera_hub_status(nowhere, NULL, NULL, ms, now, &c), c, "trust");
  refused("hub: empty product", tessera_hub_status(nowhere, trust, "", ms, now, &c), c, "product");
  refused("hub: non-UTF-8 product", tessera_hub_status(nowhere, trust, not_utf8, ms, now, &c), c, "product");
  const int64_t bad_timeouts[] = {0, -1, -5000, INT64_MIN, TESSERA_HUB_TIMEOUT_MS_MAX + 1, INT64_MAX};
  for (size_t i = 0; i < sizeof bad_timeouts / sizeof bad_timeouts[0]; i++) {
    refused("hub: timeout out of range", tessera_hub_status(nowhere, trust, NULL, bad_timeouts[i], now, &c), c, "timeout_ms");
  }
  refused("hub: negative now", tessera_hub_status(nowhere, trust, NULL, ms, -1, &c), c, "now");
  refused("hub: NULL out", tessera_hub_status(nowhere, trust, NULL, ms, now, NULL), NULL, "out");

  /* A failed call leaves NULL in *out, whatever the variable held: a caller that reads or
   * frees it after a failure gets NULL's answers ("no"), never a stale or wild pointer. (The
   * code is taken first: C may read `stale` before making a call that is an argument.) */
  int sentinel = 0;
  TesseraCheck *stale = (TesseraCheck *)&sentinel;
  TesseraCode failed = tessera_verify_license(NULL, bytes, len, NULL, now, &stale);
  refused("verify: stale out", failed, stale, "trust");
  stale = (TesseraCheck *)&sentinel;
  failed = tessera_runner_check(NULL, NULL, now, &stale);
  refused("runner: stale out", failed, stale, "state_dir");
  stale = (TesseraCheck *)&sentinel;
  failed = tessera_hub_status(NULL, trust, NULL, ms, now, &stale);
  refused("hub: stale out", failed, stale, "socket");
  stale = (TesseraCheck *)&sentinel;
  EXPECT(tessera_hub_status(nowhere, trust, NULL, 1, now, &stale) == TESSERA_CODE_HUB_UNREACHABLE && stale == NULL,
         "hub unreachable: a stale out stays: %s", tessera_last_error());
  TesseraTrust *stale_trust = (TesseraTrust *)&sentinel;
  failed = tessera_trust_parse(NULL, &stale_trust);
  refused("trust: stale out", failed, stale_trust, "trust text");
  stale_trust = (TesseraTrust *)&sentinel;
  EXPECT(tessera_trust_parse("", &stale_trust) == TESSERA_CODE_BAD_TRUST && stale_trust == NULL, "bad trust: a stale out stays");

  /* A trust set saved by a Windows editor (a byte-order mark) is the same trust set. */
  char *bom_text = malloc(strlen(trust_text) + 4);
  EXPECT(bom_text != NULL, "malloc");
  strcpy(bom_text, "\xEF\xBB\xBF");
  strcat(bom_text, trust_text);
  TesseraTrust *bom_trust = NULL;
  EXPECT(tessera_trust_parse(bom_text, &bom_trust) == TESSERA_CODE_OK, "a trust set with a BOM: %s", tessera_last_error());
  EXPECT(tessera_verify_license(bom_trust, bytes, len, product, now, &c) == TESSERA_CODE_OK &&
             tessera_check_permits_running(c) == 1,
         "a license under a trust set with a BOM: %s", tessera_check_reason(c));
  tessera_check_free(c);
  c = NULL;
  tessera_trust_free(bom_trust);
  free(bom_text);

  /* Every argument right: the call is made (no wrong no). */
  EXPECT(tessera_hub_status(nowhere, trust, product, 1, now, &c) == TESSERA_CODE_HUB_UNREACHABLE && c == NULL, "1 ms: %s", tessera_last_error());
  EXPECT(tessera_hub_status(nowhere, trust, product, TESSERA_HUB_TIMEOUT_MS_MAX, now, &c) == TESSERA_CODE_HUB_UNREACHABLE, "max: %s", tessera_last_error());
  EXPECT(tessera_verify_license(trust, bytes, 0, NULL, now, &c) == TESSERA_CODE_OK, "empty license: %s", tessera_last_error());
  EXPECT(tessera_check_status_code(c) == TESSERA_STATUS_MALFORMED, "an empty license is malformed: %s", tessera_check_status(c));
  tessera_check_free(c);
  c = NULL;
  /* The status as an enum value, beside its word. */
  struct {
    const char *product;
    int64_t now;
    TesseraStatus status;
    const char *word;
  } verdicts[] = {
      {product, now, TESSERA_STATUS_VALID, "valid"},
      {"other-product", now, TESSERA_STATUS_WRONG_PRODUCT, "wrong_product"},
      {NULL, 0, TESSERA_STATUS_NOT_YET_VALID, "not_yet_valid"},
      {NULL, 253402300799LL, TESSERA_STATUS_EXPIRED, "expired"},
  };
  for (size_t i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++) {
    TesseraCode code = tessera_verify_license(trust, bytes, len, verdicts[i].product, verdicts[i].now, &c);
    EXPECT(code == TESSERA_CODE_OK, "%s: %s", verdicts[i].word, tessera_last_error());
    EXPECT(tessera_check_status_code(c) == verdicts[i].status, "%s: %d", verdicts[i].word, tessera_check_status_code(c));
    EXPECT(strcmp(tessera_check_status(c), verdicts[i].word) == 0, "%s: %s", verdicts[i].word, tessera_check_status(c));
    EXPECT(tessera_check_permits_running(c) == (verdicts[i].status == TESSERA_STATUS_VALID), "%s", verdicts[i].word);
    tessera_check_free(c);
    c = NULL;
  }
  EXPECT(tessera_check_status_code(NULL) == TESSERA_STATUS_UNRECOGNIZED, "NULL check");

  /* The deadline, against an agent that accepts (the kernel's backlog) and never answers. A
   * generous margin for a loaded machine; the lower bound shows the deadline given is kept. */
  char path[200];
  snprintf(path, sizeof path, "%s/status.sock", env("TESSERA_TEST_DIR"));
  int server = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  EXPECT(server >= 0 && bind(server, (struct sockaddr *)&address, sizeof address) == 0 && listen(server, 8) == 0,
         "a listening socket at %s", path);
  const int64_t deadlines[] = {300, 1500};
  for (size_t i = 0; i < 2; i++) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    TesseraCode code = tessera_hub_status(path, trust, product, deadlines[i], now, &c);
    double took = ms_since(&start);
    EXPECT(code == TESSERA_CODE_HUB_UNREACHABLE && c == NULL, "stalled: code %d", code);
    EXPECT(took >= (double)deadlines[i] - 20.0 && took < (double)deadlines[i] + 2000.0,
           "%.0f ms for a %lld ms deadline", took, (long long)deadlines[i]);
  }
  close(server);

  tessera_trust_free(trust);
  free(trust_text);
  free(license);
  if (failures > 0) {
    fprintf(stderr, "%d failed\n", failures);
    return 1;
  }
  printf("all C argument checks passed\n");
  return 0;
}
