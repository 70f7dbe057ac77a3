#include "api/routes.h"

/* Add a subsystem's table here; nothing else needs to change to expose and document it. */
const struct http_route *const api_route_tables[] = {
    api_system_routes,
    NULL,
};
