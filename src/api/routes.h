/*
 * The route table: one declarative source for dispatch, the `route` metric label and
 * /openapi.json. Each API file exports its table (ending with a NULL pattern); routes.c lists them.
 */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include "http/http.h"

extern const struct http_route api_system_routes[];
extern const struct http_route api_auth_routes[];       /* api/auth.c */
extern const struct http_route api_admin_user_routes[]; /* api/admin_users.c */
extern const struct http_route api_immune_routes[];     /* api/immune.c */

/* knowledge engine */
extern const struct http_route api_capsule_routes[];         /* api/capsules.c */
extern const struct http_route api_admin_capsule_routes[];   /* api/admin_capsules.c */
extern const struct http_route api_admin_audit_routes[];     /* api/admin_audit.c */
extern const struct http_route api_governance_routes[];      /* governance.c */
extern const struct http_route api_quarantine_routes[];      /* quarantine.c */
extern const struct http_route api_search_routes[];          /* search.c */
extern const struct http_route api_admin_retention_routes[]; /* admin_retention.c */
extern const struct http_route api_graph_routes[];           /* graph.c */
extern const struct http_route api_history_routes[];         /* history.c */
extern const struct http_route api_overlay_routes[];         /* overlays.c */
extern const struct http_route api_mcp_routes[];             /* mcp/mcp_http.c */
extern const struct http_route api_privacy_routes[];         /* privacy.c (GDPR) */

/** NULL-terminated list of every table. */
extern const struct http_route *const api_route_tables[];

/** Builds the OpenAPI 3.1 document from the route tables (new reference). */
json_t *api_openapi_build(void);

#endif
