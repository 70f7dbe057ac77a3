/*
 * The route table: one declarative source for dispatch, the `route` metric label and
 * /openapi.json. Each API file exports its table (ending with a NULL pattern); routes.c lists them.
 */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include "http/http.h"

extern const struct http_route api_system_routes[];

/** NULL-terminated list of every table. */
extern const struct http_route *const api_route_tables[];

/** Builds the OpenAPI 3.1 document from the route tables (new reference). */
json_t *api_openapi_build(void);

#endif
