#ifndef HINDSIGHT_HS_CATALOG_H
#define HINDSIGHT_HS_CATALOG_H
/*
 * The event catalogue compiled for the append path: each JSON Schema in EventSchemas/ is
 * compiled once into a tree of checks that `hs_parse_envelope` runs against an event's
 * `data`, so that no generic JSON Schema is interpreted per event.
 *
 * The compiler understands exactly the keywords the catalogue uses and refuses any other,
 * so a schema never says more than the engine enforces. `pattern` is understood only inside
 * the shared definitions of common.json, each of which has a native check of the same name.
 */
#include <stddef.h>

#include "hs_json.h"

#ifdef __cplusplus
extern "C" {
#endif

hs_catalog *hs_catalog_create(void);
void hs_catalog_destroy(hs_catalog *catalog);

/* Adds the shared definitions (common.json). Must come before any event schema. */
int hs_catalog_add_common(hs_catalog *catalog, const char *json, size_t len, hs_error *err);

/*
 * Compiles one event schema (TYPE.vN.json) and returns its index (0, 1, 2 … in the order of
 * adding), or -1 with `err` filled (path: a JSON Pointer into the schema).
 */
int hs_catalog_add_schema(hs_catalog *catalog, const char *json, size_t len, hs_error *err);

/* Checks `value` against the shared definition `name` of common.json: 1 if it conforms,
 * 0 if not, -1 if there is no such definition. */
int hs_catalog_check_definition(const hs_catalog *catalog, const char *name, const char *value, size_t len);

#ifdef __cplusplus
}
#endif
#endif
