/*
 * The one mapper from a core failure (enum fg_err + struct fg_why) to the documented error reply
 * {"code","message","details"} with its status. Every handler that reports a core or store error
 * goes through api_reply_err, so one condition reaches clients with one code and one text.
 */
#ifndef API_ERROR_H
#define API_ERROR_H

#include "http/http.h"
#include "util/err.h"

/** The one text of an unavailable or busy store (FG_EUNAVAIL / FG_ETIMEOUT without a message). */
#define API_UNAVAILABLE_MSG "the store is busy or its disk is full; retry shortly"

/**
 * Writes the error reply of `e` (must not be FG_OK) to `resp`; `why` is borrowed and may be NULL.
 * FG_EINVAL → 422 validation_error, FG_ENOTFOUND → 404 not_found, FG_EFORBIDDEN → 403 forbidden,
 * FG_ECONFLICT → 409 conflict, FG_EUNAVAIL / FG_ETIMEOUT → 503 service_unavailable, anything
 * else → 500 internal_error (its cause is logged by the module, never shown to clients).
 */
void api_reply_err(struct http_resp *resp, enum fg_err e, const struct fg_why *why);

#endif
