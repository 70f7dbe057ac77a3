#include "core/ratelimit.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/authz.h"
#include "core/shared_state.h"
#include "util/config.h"

void fg_rate_window(int64_t now_ms, int64_t window_ms, int64_t *index, int64_t *ms_left)
{
    if (window_ms <= 0)
        window_ms = FG_RATE_WINDOW_MS;
    if (now_ms < 0)
        now_ms = 0;
    *index = now_ms / window_ms;
    *ms_left = window_ms - now_ms % window_ms; /* 1..window_ms */
}

void fg_rate_decide(int64_t count, int64_t limit, int64_t ms_left, struct fg_rate_result *out)
{
    out->limit = limit;
    out->allowed = count <= limit;
    out->remaining = count >= limit ? 0 : limit - count;
    out->reset_s = (ms_left + 999) / 1000;
    if (out->reset_s < 1)
        out->reset_s = 1;
    out->retry_after_s = out->reset_s;
}

enum fg_err fg_rate_check(struct fg_shared_state *ss, const char *subject, int64_t limit,
                          int64_t now_ms, struct fg_rate_result *out)
{
    int64_t idx, left;
    fg_rate_window(now_ms, FG_RATE_WINDOW_MS, &idx, &left);
    char key[FG_SS_MAX_KEY + 1];
    snprintf(key, sizeof key, "rl:%s:%" PRId64, subject, idx);
    int64_t count = 0;
    enum fg_err e = fg_ss_incr(ss, key, left + FG_RATE_KEY_SLACK_MS, &count, NULL);
    if (e != FG_OK) {
        fg_rate_decide(0, limit, left, out);
        return e;
    }
    fg_rate_decide(count, limit, left, out);
    return FG_OK;
}

int64_t fg_rate_limit_for_trust(const struct fg_config *cfg, int trust)
{
    if (trust >= FG_TRUST_CORE)
        return cfg->rate_limit_core;
    if (trust >= FG_TRUST_TRUSTED)
        return cfg->rate_limit_trusted;
    if (trust >= FG_TRUST_STANDARD)
        return cfg->rate_limit_standard;
    if (trust >= FG_TRUST_SANDBOX)
        return cfg->rate_limit_sandbox;
    return cfg->rate_limit_quarantine;
}
