/* Time per call of tessera_verify_license, tessera_runner_check and tessera_hub_status from
 * C, on the scene the Rust benchmark made (crates/tessera/benches/bindings.rs reads the one
 * JSON line printed). benches/bindings.sh builds it with gcc -O2 against the release
 * library and the generated header. Each call is made as a product makes it: ask, read the
 * answer, free the check. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tessera.h"

enum { BATCHES = 15, CALLS = 200 };

static const char *env(const char *name) {
  const char *value = getenv(name);
  if (value == NULL) {
    fprintf(stderr, "%s is not set\n", name);
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
  *len = n;
  return text;
}

static int64_t nanos(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* What every call needs: the scene, parsed once as a product does at start-up. */
static const TesseraTrust *trust;
static const uint8_t *license;
static size_t license_len;
static const char *runner_state;
static const char *hub_socket;
static int64_t now;

/* One call, its answer read and freed; exits when the check fails or says no. */
static void finish(TesseraCode code, TesseraCheck *check) {
  if (code != TESSERA_CODE_OK) {
    fprintf(stderr, "code %d: %s\n", (int)code, tessera_last_error());
    exit(1);
  }
  if (!tessera_check_permits_running(check)) {
    fprintf(stderr, "the check said no: %s\n", tessera_check_reason(check));
    exit(1);
  }
  tessera_check_free(check);
}

/* The code is taken before `check` is read: C leaves the order of arguments open. */
static void verify(void) {
  TesseraCheck *check = NULL;
  TesseraCode code = tessera_verify_license(trust, license, license_len, NULL, now, &check);
  finish(code, check);
}

static void runner(void) {
  TesseraCheck *check = NULL;
  TesseraCode code = tessera_runner_check(runner_state, "keyutils", now, &check);
  finish(code, check);
}

static void hub(void) {
  TesseraCheck *check = NULL;
  /* The hub agent's latest time is the wall clock's: ask at the system time. */
  TesseraCode code = tessera_hub_status(hub_socket, trust, NULL, TESSERA_HUB_TIMEOUT_MS_DEFAULT,
                                        tessera_now(), &check);
  finish(code, check);
}

/* The best of the batches' mean time per call, in nanoseconds. */
static double best_per_call(void (*call)(void)) {
  double best = 1e300;
  for (int b = 0; b < BATCHES; b++) {
    int64_t start = nanos();
    for (int i = 0; i < CALLS; i++) call();
    double per_call = (double)(nanos() - start) / CALLS;
    if (per_call < best) best = per_call;
  }
  return best;
}

int main(void) {
  size_t trust_len;
  char *trust_text = slurp(env("TESSERA_SCENE_TRUST"), &trust_len);
  TesseraTrust *parsed = NULL;
  if (tessera_trust_parse(trust_text, &parsed) != TESSERA_CODE_OK) {
    fprintf(stderr, "trust set: %s\n", tessera_last_error());
    return 1;
  }
  trust = parsed;
  license = (const uint8_t *)slurp(env("TESSERA_SCENE_LICENSE"), &license_len);
  runner_state = env("TESSERA_SCENE_RUNNER_STATE");
  hub_socket = env("TESSERA_SCENE_HUB_SOCKET");
  now = strtoll(env("TESSERA_SCENE_NOW"), NULL, 10);

  double verify_ns = best_per_call(verify);
  double runner_ns = best_per_call(runner);
  double hub_ns = best_per_call(hub);
  printf("{\"verify_ns\": %.1f, \"runner_ns\": %.1f, \"hub_ns\": %.1f}\n", verify_ns, runner_ns,
         hub_ns);
  tessera_trust_free(parsed);
  free(trust_text);
  free((void *)license);
  return 0;
}
