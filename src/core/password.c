#include "core/password.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <argon2.h>
#include <sodium.h>

#include "util/log.h"

/* A hash of 32 random bytes that were thrown away: verifying anything against it costs exactly
 * what a real verify costs and never matches. */
static const char dummy_hash[] = "$argon2id$v=19$m=65536,t=3,p=4$yEZqakqUfPFoENHUse+kvw$"
                                 "rVh5EQJRUMd2Gzi4gnr3ltSlvNCLwdcX8He7PAc2Kxs";

/* Counting semaphore (mutex + condition variable: a timed wait on a monotonic clock). */
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_cv;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static int slots_max = 2;
static int slots_used;

static void slots_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&slots_cv, &a);
    pthread_condattr_destroy(&a);
    if (sodium_init() < 0)
        fg_log(FG_LOG_ERROR, "sodium_init_failed", FG_LF_END);
}

void fg_password_init(int max_concurrent)
{
    pthread_once(&slots_once, slots_init);
    pthread_mutex_lock(&slots_mu);
    slots_max = max_concurrent > 0 ? max_concurrent : 1;
    pthread_cond_broadcast(&slots_cv);
    pthread_mutex_unlock(&slots_mu);
}

static enum fg_err slot_acquire(void)
{
    pthread_once(&slots_once, slots_init);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += FG_ARGON2_WAIT_S;
    enum fg_err e = FG_OK;
    pthread_mutex_lock(&slots_mu);
    while (slots_used >= slots_max) {
        if (pthread_cond_timedwait(&slots_cv, &slots_mu, &deadline) == ETIMEDOUT &&
            slots_used >= slots_max) {
            e = FG_EUNAVAIL;
            break;
        }
    }
    if (e == FG_OK)
        slots_used++;
    pthread_mutex_unlock(&slots_mu);
    if (e != FG_OK)
        fg_log(FG_LOG_WARN, "argon2_busy", FG_LF_INT("max_concurrent", slots_max), FG_LF_END);
    return e;
}

static void slot_release(void)
{
    pthread_mutex_lock(&slots_mu);
    slots_used--;
    pthread_cond_signal(&slots_cv);
    pthread_mutex_unlock(&slots_mu);
}

int fg_password_active(void)
{
    pthread_mutex_lock(&slots_mu);
    int n = slots_used;
    pthread_mutex_unlock(&slots_mu);
    return n;
}

int fg_password_policy_ok(const char *pw, size_t len)
{
    if (!pw || memchr(pw, '\0', len))
        return 0;
    size_t chars = 0;
    int upper = 0, lower = 0, digit = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pw[i];
        if ((c & 0xC0) != 0x80)
            chars++;
        if (c >= 'A' && c <= 'Z')
            upper = 1;
        else if (c >= 'a' && c <= 'z')
            lower = 1;
        else if (c >= '0' && c <= '9')
            digit = 1;
    }
    return chars >= FG_PASSWORD_MIN_CHARS && chars <= FG_PASSWORD_MAX_CHARS && upper && lower &&
           digit;
}

enum fg_err fg_password_hash(const char *pw, size_t len, char *out, size_t outlen)
{
    if (outlen < FG_PASSWORD_HASH_MAX)
        return FG_EINVAL;
    unsigned char salt[FG_ARGON2_SALT_LEN];
    enum fg_err e = slot_acquire();
    if (e != FG_OK)
        return e;
    randombytes_buf(salt, sizeof salt);
    int rc = argon2id_hash_encoded(FG_ARGON2_T, FG_ARGON2_M_KIB, FG_ARGON2_P, pw, len, salt,
                                   sizeof salt, FG_ARGON2_HASH_LEN, out, outlen);
    slot_release();
    if (rc != ARGON2_OK) {
        fg_log(FG_LOG_ERROR, "argon2_hash_failed", FG_LF_STR("error", argon2_error_message(rc)),
               FG_LF_END);
        return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? FG_EUNAVAIL : FG_EINTERNAL;
    }
    return FG_OK;
}

enum fg_err fg_password_verify(const char *encoded, const char *pw, size_t len, int *match)
{
    *match = 0;
    enum fg_err e = slot_acquire();
    if (e != FG_OK)
        return e;
    int rc = argon2id_verify(encoded, pw, len);
    slot_release();
    if (rc == ARGON2_OK) {
        *match = 1;
        return FG_OK;
    }
    if (rc == ARGON2_VERIFY_MISMATCH)
        return FG_OK;
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return FG_EUNAVAIL;
    fg_log(FG_LOG_ERROR, "argon2_verify_failed", FG_LF_STR("error", argon2_error_message(rc)),
           FG_LF_END);
    return FG_OK;
}

enum fg_err fg_password_verify_dummy(const char *pw, size_t len)
{
    int match;
    return fg_password_verify(dummy_hash, pw, len, &match);
}
