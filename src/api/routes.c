#include "api/routes.h"

/* Add a subsystem's table here; nothing else needs to change to expose and document it.
 * One table a line (clang-format off keeps it that way, so parallel additions merge cleanly). */
// clang-format off
const struct http_route *const api_route_tables[] = {
    api_system_routes,
    api_auth_routes,
    api_admin_user_routes,
    api_immune_routes,
    api_capsule_routes,
    api_admin_capsule_routes,
    api_admin_audit_routes,
    api_governance_routes,
    api_quarantine_routes,
    api_search_routes,
    api_admin_retention_routes,
    api_graph_routes,
    api_history_routes,
    api_overlay_routes, /* api/overlays.c */
    api_mcp_routes, /* mcp/mcp_http.c */
    api_privacy_routes, /* api/privacy.c (GDPR) */
    NULL,
};
// clang-format on
