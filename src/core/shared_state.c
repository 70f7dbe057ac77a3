/* Choosing the shared-state implementation (shared_state.h). */
#include "core/shared_state.h"

#include "util/config.h"

/* core/shared_state_redis.c (hiredis). */
enum fg_err fg_ss_redis_open(const char *url, struct fg_shared_state **out, char *err,
                             size_t errlen);

enum fg_err fg_ss_open(const struct fg_config *cfg, struct fg_shared_state **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    if (cfg && cfg->redis_url && cfg->redis_url[0])
        return fg_ss_redis_open(cfg->redis_url, out, err, errlen);
    *out = fg_ss_mem_new(0);
    return FG_OK;
}
