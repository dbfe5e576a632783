/* The scene's scenarios through the C library: each check on real state, each handle freed.
 * Run by tests/c/main.rs (also under valgrind, which must find no leak). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int64_t time_of(const char *name) { return strtoll(env(name), NULL, 10); }

/* One license verification: its status word. */
static void expect_license(const TesseraTrust *trust, const char *path, const char *product,
                           int64_t now, const char *status) {
  size_t len;
  char *text = slurp(path, &len);
  TesseraCheck *check = NULL;
  TesseraCode code = tessera_verify_license(trust, (const uint8_t *)text, len, product, now, &check);
  EXPECT(code == TESSERA_CODE_OK, "code %d: %s", code, tessera_last_error());
  if (code == TESSERA_CODE_OK) {
    EXPECT(strcmp(tessera_check_status(check), status) == 0, "%s: %s (%s)", path,
           tessera_check_status(check), tessera_check_reason(check));
  }
  tessera_check_free(check);
  free(text);
}

static void expect_runner(const char *dir, int64_t now, const char *status) {
  TesseraCheck *check = NULL;
  TesseraCode code = tessera_runner_check(dir, "keyutils", now, &check);
  EXPECT(code == TESSERA_CODE_OK, "code %d: %s", code, tessera_last_error());
  if (code == TESSERA_CODE_OK) {
    EXPECT(strcmp(tessera_check_status(check), status) == 0, "runner: %s (%s)",
           tessera_check_status(check), tessera_check_reason(check));
  }
  tessera_check_free(check);
}

static void expect_hub(const char *socket, const TesseraTrust *trust, int64_t now, const char *status) {
  TesseraCheck *check = NULL;
  TesseraCode code = tessera_hub_status(socket, trust, env("TESSERA_SCENE_PRODUCT"),
                                        TESSERA_HUB_TIMEOUT_MS_DEFAULT, now, &check);
  EXPECT(code == TESSERA_CODE_OK, "code %d: %s", code, tessera_last_error());
  if (code == TESSERA_CODE_OK) {
    EXPECT(strcmp(tessera_check_status(check), status) == 0, "hub: %s (%s)",
           tessera_check_status(check), tessera_check_reason(check));
  }
  tessera_check_free(check);
}

int main(void) {
  char *trust_text = slurp(env("TESSERA_SCENE_TRUST"), NULL);
  TesseraTrust *trust = NULL;
  EXPECT(tessera_trust_parse(trust_text, &trust) == TESSERA_CODE_OK, "%s", tessera_last_error());
  free(trust_text);

  int64_t now = time_of("TESSERA_SCENE_NOW");
  const char *license = env("TESSERA_SCENE_LICENSE");
  expect_license(trust, license, env("TESSERA_SCENE_PRODUCT"), now, "valid");
  expect_license(trust, env("TESSERA_SCENE_TAMPERED"), NULL, now, "bad_signature");
  expect_license(trust, license, NULL, time_of("TESSERA_SCENE_EXPIRED_AT"), "expired");
  expect_license(trust, license, "another-product", now, "wrong_product");

  /* The terms of a valid license. */
  size_t len;
  char *text = slurp(license, &len);
  TesseraCheck *check = NULL;
  EXPECT(tessera_verify_license(trust, (const uint8_t *)text, len, NULL, now, &check) == TESSERA_CODE_OK, "verify");
  EXPECT(tessera_check_permits_running(check) == 1, "permits running");
  EXPECT(strcmp(tessera_check_license_id(check), env("TESSERA_SCENE_LICENSE_ID")) == 0, "license id");
  EXPECT(tessera_check_runner_limit(check) == (uint32_t)atoi(env("TESSERA_SCENE_RUNNER_LIMIT")), "runner limit");
  EXPECT(tessera_check_has_feature(check, "sso") == 1, "feature sso");
  EXPECT(tessera_check_has_feature(check, "nope") == 0, "no feature nope");
  EXPECT(strstr(tessera_check_json(check), "\"status\":\"valid\"") != NULL, "%s", tessera_check_json(check));
  tessera_check_free(check);
  free(text);

  /* Bad arguments: a code and a message, never a crash. */
  check = NULL;
  EXPECT(tessera_verify_license(NULL, (const uint8_t *)"x", 1, NULL, now, &check) == TESSERA_CODE_BAD_ARGUMENT, "NULL trust");
  EXPECT(check == NULL, "no handle on error");
  EXPECT(tessera_last_error() != NULL && strstr(tessera_last_error(), "trust") != NULL, "message names the argument");
  TesseraTrust *bad = NULL;
  EXPECT(tessera_trust_parse("not a trust set", &bad) == TESSERA_CODE_BAD_TRUST, "bad trust");
  EXPECT(bad == NULL, "no handle on error");
  EXPECT(tessera_runner_check("/tmp", "floppy", now, &check) == TESSERA_CODE_BAD_ARGUMENT, "bad keystore");
  EXPECT(tessera_hub_status("/nonexistent/hub.sock", trust, NULL, 1000, now, &check) == TESSERA_CODE_HUB_UNREACHABLE, "no agent");
  EXPECT(tessera_check_status(NULL) == NULL && tessera_check_grace_left_secs(NULL) == -1, "NULL handles");
  tessera_check_free(NULL);
  tessera_trust_free(NULL);

  /* A hub application and a runner, at injected times. */
  const char *socket = env("TESSERA_SCENE_HUB_SOCKET");
  expect_hub(socket, trust, now, "valid");
  expect_hub(socket, trust, time_of("TESSERA_SCENE_GRACE_AT"), "grace");
  expect_hub(socket, trust, time_of("TESSERA_SCENE_PAST_GRACE_AT"), "grace_expired");
  expect_hub(env("TESSERA_SCENE_REVOKED_HUB_SOCKET"), trust, now, "revoked");
  const char *runner = env("TESSERA_SCENE_RUNNER_STATE");
  expect_runner(runner, now, "valid");
  check = NULL;
  EXPECT(tessera_runner_check(runner, "keyutils", time_of("TESSERA_SCENE_GRACE_AT"), &check) == TESSERA_CODE_OK, "runner");
  EXPECT(strcmp(tessera_check_status(check), "grace") == 0, "%s", tessera_check_reason(check));
  EXPECT(tessera_check_grace_left_secs(check) > 20 * 3600, "grace left %lld", (long long)tessera_check_grace_left_secs(check));
  tessera_check_free(check);
  expect_runner(runner, time_of("TESSERA_SCENE_PAST_GRACE_AT"), "grace_expired");

  tessera_trust_free(trust);
  if (failures > 0) {
    fprintf(stderr, "%d failed\n", failures);
    return 1;
  }
  printf("all C scenarios passed\n");
  return 0;
}
