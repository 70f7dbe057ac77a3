/* Run functions of the client commands (one file per command group). Private to src/cli. */
#ifndef CLI_CMDS_H
#define CLI_CMDS_H

#include "cli/client.h"

int cli_login(struct cli_ctx *c, struct cli_args *a);
int cli_register(struct cli_ctx *c, struct cli_args *a);
int cli_logout(struct cli_ctx *c, struct cli_args *a);
int cli_whoami(struct cli_ctx *c, struct cli_args *a);
int cli_status(struct cli_ctx *c, struct cli_args *a);

int cli_capsule_create(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_get(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_list(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_edit(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_delete(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_derive(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_lineage(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_revisions(struct cli_ctx *c, struct cli_args *a);
int cli_search(struct cli_ctx *c, struct cli_args *a);

int cli_import(struct cli_ctx *c, struct cli_args *a);
int cli_export(struct cli_ctx *c, struct cli_args *a);

int cli_proposal_list(struct cli_ctx *c, struct cli_args *a);
int cli_proposal_show(struct cli_ctx *c, struct cli_args *a);
int cli_proposal_create(struct cli_ctx *c, struct cli_args *a);
int cli_proposal_activate(struct cli_ctx *c, struct cli_args *a);
int cli_proposal_vote(struct cli_ctx *c, struct cli_args *a);
int cli_proposal_cancel(struct cli_ctx *c, struct cli_args *a);

/** GET base (+ page/per_page) once or with --all every page; rows() fills the table from a
 * page's data; prints per output mode (cmd_capsule.c). */
int cli_list_pages(struct cli_ctx *c, struct cli_args *a, const char *base,
                   void (*rows)(struct cli_table *, json_t *), int ncols,
                   const char *const *headers, const char *noun);

/* cmd_graph.c: typed edges, graph traversal, time travel */
int cli_capsule_diff(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_links(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_link(struct cli_ctx *c, struct cli_args *a);
int cli_capsule_unlink(struct cli_ctx *c, struct cli_args *a);
int cli_graph_neighbors(struct cli_ctx *c, struct cli_args *a);
int cli_graph_path(struct cli_ctx *c, struct cli_args *a);
int cli_graph_contradictions(struct cli_ctx *c, struct cli_args *a);
/** GET /capsules/{id}?as_of= or /revisions/{version} for `capsule get` (cmd_graph.c). */
int cli_capsule_get_past(struct cli_ctx *c, struct cli_args *a);

/* cmd_overlay.c */
int cli_overlay_list(struct cli_ctx *c, struct cli_args *a);
int cli_overlay_show(struct cli_ctx *c, struct cli_args *a);
int cli_overlay_versions(struct cli_ctx *c, struct cli_args *a);
int cli_overlay_register(struct cli_ctx *c, struct cli_args *a);
int cli_overlay_transition(struct cli_ctx *c, struct cli_args *a);
int cli_overlay_invoke(struct cli_ctx *c, struct cli_args *a);
int cli_overlay_invocations(struct cli_ctx *c, struct cli_args *a);

/** Checks that id looks like a UUID; prints a usage error and returns 1 when not. */
int cli_bad_id(struct cli_ctx *c, const char *id, const char *what);

int cli_completion(struct cli_ctx *c, struct cli_args *a);
int cli_mcp(struct cli_ctx *c, struct cli_args *a); /* cmd_mcp.c */

#endif
