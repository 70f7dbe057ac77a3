/* Private to the knowledge-engine API files (capsules.c, admin_capsules.c, admin_audit.c). */
#ifndef API_CAPSULES_INT_H
#define API_CAPSULES_INT_H

#include "core/capsule.h"
#include "http/http.h"
#include "util/err.h"

/** Copies a capsule/history/graph failure into the one details structure (what defaults to
 * "capsule"). */
void api_capsule_why(struct fg_why *w, const struct fg_capsule_why *why);
/** api_reply_err of a capsule/history/graph failure. */
void api_capsule_error(struct http_resp *resp, enum fg_err e, const struct fg_capsule_why *why);
/** page (≥ 1, default 1) and per_page (1–100, default 20); -1 after replying 422. */
int api_page_params(struct http_req *req, struct http_resp *resp, long long *page,
                    long long *per_page);

#endif
