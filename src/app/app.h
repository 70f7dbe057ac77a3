/*
 * The composition root of `forge serve`: wires the layers together (store, core subsystems, the
 * API's route tables into the HTTP router). It lives outside src/core so that core never includes
 * http/ or api/ (docs/CONTRIBUTING.md, layering).
 */
#ifndef APP_APP_H
#define APP_APP_H

#include <stddef.h>

#include "core/app.h"

/** Opens the store (migrating it), builds the router and starts subsystems. -1 + message on error.
 */
int fg_app_start(struct fg_app *app, struct fg_config *cfg, char *err, size_t errlen);
/** Stops subsystems and closes the store. */
void fg_app_stop(struct fg_app *app);

#endif
