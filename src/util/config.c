/*
 * Configuration table and loader. See config.h. Each entry of `vars` names one environment
 * variable; the loader applies defaults, then the .env file, then the environment, validating every
 * value.
 */
#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "util/mem.h"

enum vtype { T_STR, T_SECRET, T_INT, T_DBL, T_BOOL, T_ENUM };

struct var {
    const char *name;
    enum vtype type;
    size_t off;
    const char *def;
    long long min, max; /* T_INT bounds; T_DBL uses dmin/dmax */
    double dmin, dmax;
    const char *const *enums; /* T_ENUM accepted values; index stored */
    const char *desc;
};

static const char *const env_names[] = {"development", "staging", "production", NULL};
static const char *const level_names[] = {"debug", "info", "warning", "error", NULL};
static const char *const format_names[] = {"auto", "json", "console", NULL};
static const char *const provider_names[] = {"local", "openai", "azure", "model", NULL};

#define OFF(f) offsetof(struct fg_config, f)
#define S(n, f, d, desc)                                                                           \
    {                                                                                              \
        n, T_STR, OFF(f), d, 0, 0, 0, 0, NULL, desc                                                \
    }
#define SEC(n, f, desc)                                                                            \
    {                                                                                              \
        n, T_SECRET, OFF(f), "", 0, 0, 0, 0, NULL, desc                                            \
    }
#define I(n, f, d, lo, hi, desc)                                                                   \
    {                                                                                              \
        n, T_INT, OFF(f), d, lo, hi, 0, 0, NULL, desc                                              \
    }
#define D(n, f, d, lo, hi, desc)                                                                   \
    {                                                                                              \
        n, T_DBL, OFF(f), d, 0, 0, lo, hi, NULL, desc                                              \
    }
#define B(n, f, d, desc)                                                                           \
    {                                                                                              \
        n, T_BOOL, OFF(f), d, 0, 0, 0, 0, NULL, desc                                               \
    }
#define E(n, f, d, list, desc)                                                                     \
    {                                                                                              \
        n, T_ENUM, OFF(f), d, 0, 0, 0, 0, list, desc                                               \
    }

static const struct var vars[] = {
    E("ENVIRONMENT", environment, "development", env_names, "deployment environment"),
    B("DEBUG", debug, "false",
      "log at debug level whatever LOG_LEVEL says (detail in logs, never in responses)"),
    E("LOG_LEVEL", log_level, "info", level_names, "lowest level logged"),
    E("LOG_FORMAT", log_format, "auto", format_names,
      "auto: console in development, JSON otherwise"),
    S("HOST", host, "127.0.0.1", "listen address"),
    I("PORT", port, "8000", 1, 65535, "listen port"),
    I("WORKERS", workers, "0", 0, 256,
      "HTTP worker threads (0: 4 per CPU, at least 4; handlers may wait on Argon2 or the store)"),
    I("MAX_CONNECTIONS", max_connections, "1024", 1, 65536, "concurrent connections"),
    I("PER_IP_CONNECTION_LIMIT", per_ip_connection_limit, "128", 0, 65536,
      "concurrent connections per client IP, IPv6 per /64 (0: no limit; TRUSTED_PROXIES exempt)"),
    I("MAX_BODY_BYTES", max_body_bytes, "2097152", 1024, 67108864, "request body cap (413 above)"),
    I("MAX_HEADER_BYTES", max_header_bytes, "32768", 4096, 1048576,
      "memory for request line + headers per connection"),
    I("CONNECTION_TIMEOUT_S", connection_timeout_s, "30", 1, 3600, "idle connection timeout"),
    I("REQUEST_TIMEOUT_S", request_timeout_s, "60", 1, 3600,
      "longest time to receive one request body"),
    I("SHUTDOWN_TIMEOUT_S", shutdown_timeout_s, "25", 1, 300, "drain time for in-flight requests"),
    S("CORS_ORIGINS", cors_origins, "", "comma-separated allowed origins ('*' for any)"),
    S("TRUSTED_PROXIES", trusted_proxies, "",
      "comma-separated proxy IPs whose X-Forwarded-For is believed"),
    S("DATABASE_URL", database_url, "sqlite:///./data/forge.db",
      "sqlite:///path or postgresql://user:pass@host/db"),
    I("DATABASE_POOL_SIZE", database_pool_size, "10", 1, 256,
      "store connections (PostgreSQL: each prepares the statements it runs; a PgBouncer in between "
      "needs session pooling, or max_prepared_statements, PgBouncer ≥ 1.21)"),
    I("DATABASE_BUSY_TIMEOUT_MS", database_busy_timeout_ms, "5000", 0, 600000,
      "wait for a locked database"),
    S("REDIS_URL", redis_url, "", "redis://host:port/db for shared state (empty: in-process)"),
    S("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap_servers, "",
      "Kafka brokers for events (empty: outbox only)"),
    S("KAFKA_TOPIC_PREFIX", kafka_topic_prefix, "forge.", "topic = prefix + event type"),
    SEC("JWT_SECRET", jwt_secret, "HS256 signing key (≥ 32 bytes; required in production)"),
    SEC("FORGE_MASTER_KEY", master_key,
        "64 hex chars wrapping per-user data keys (required in production)"),
    I("ACCESS_TOKEN_TTL_S", access_token_ttl_s, "900", 10, 86400, "access token lifetime"),
    I("REFRESH_TOKEN_TTL_S", refresh_token_ttl_s, "604800", 60, 7776000, "refresh token lifetime"),
    I("LOGIN_MAX_FAILURES", login_max_failures, "5", 1, 1000, "failed logins before lockout"),
    I("LOGIN_LOCKOUT_S", login_lockout_s, "900", 1, 86400, "account lockout duration"),
    I("IP_MAX_FAILURES", ip_max_failures, "10", 1, 100000, "failed logins per IP before a block"),
    I("IP_FAILURE_WINDOW_S", ip_failure_window_s, "300", 1, 86400, "window for IP failures"),
    I("IP_BLOCK_S", ip_block_s, "3600", 1, 604800, "IP block duration"),
    I("ARGON2_MAX_CONCURRENT", argon2_max_concurrent, "2", 1, 64,
      "concurrent Argon2id hashes (64 MiB each)"),
    S("FORGE_ADMIN_EMAIL", admin_email, "", "bootstrap admin created on first start"),
    SEC("FORGE_ADMIN_PASSWORD", admin_password, "bootstrap admin password"),
    B("RATE_LIMIT_ENABLED", rate_limit_enabled, "true", "enforce rate limits"),
    I("RATE_LIMIT_REQUESTS_PER_MINUTE", rate_limit_anonymous, "100", 1, 10000000,
      "unauthenticated requests per client IP per minute"),
    I("RATE_LIMIT_CORE", rate_limit_core, "10000", 1, 10000000, "per user per minute, core"),
    I("RATE_LIMIT_TRUSTED", rate_limit_trusted, "2000", 1, 10000000,
      "per user per minute, trusted"),
    I("RATE_LIMIT_STANDARD", rate_limit_standard, "1000", 1, 10000000,
      "per user per minute, standard"),
    I("RATE_LIMIT_SANDBOX", rate_limit_sandbox, "100", 1, 10000000, "per user per minute, sandbox"),
    I("RATE_LIMIT_QUARANTINE", rate_limit_quarantine, "10", 1, 10000000,
      "per user per minute, quarantine"),
    E("EMBEDDING_PROVIDER", embedding_provider, "local", provider_names, "embedding provider"),
    S("EMBEDDING_BASE_URL", embedding_base_url, "",
      "OpenAI-compatible base URL or Azure deployment URL"),
    S("EMBEDDING_MODEL", embedding_model, "text-embedding-3-small", "model for openai/azure"),
    I("EMBEDDING_DIMENSIONS", embedding_dimensions, "0", 0, 4096,
      "vector dimensions (0: provider default; local 384)"),
    I("EMBEDDING_TIMEOUT_MS", embedding_timeout_ms, "10000", 100, 600000,
      "embedding request timeout"),
    SEC("OPENAI_API_KEY", openai_api_key, "API key for openai/azure"),
    S("AZURE_OPENAI_API_VERSION", azure_api_version, "2024-02-01", "Azure OpenAI api-version"),
    D("SEARCH_MIN_SCORE", search_min_score, "-1", -1, 1,
      "default min_score of semantic search (-1: the embedder's calibrated default)"),
    B("VECTOR_INDEX_QUANTIZE", index_quantize, "true", "int8 scalar quantization of the index"),
    I("HNSW_M", hnsw_m, "16", 4, 64, "HNSW links per node"),
    I("HNSW_EF_CONSTRUCTION", hnsw_ef_construction, "200", 10, 2000, "HNSW build beam"),
    I("HNSW_EF_SEARCH", hnsw_ef_search, "64", 10, 5000, "HNSW search beam"),
    S("INDEX_PATH", index_path, "", "vector index checkpoint (empty: next to the SQLite file)"),
    B("FEATURE_GOVERNANCE_ENABLED", feature_governance, "true", "governance API"),
    B("FEATURE_OVERLAYS_ENABLED", feature_overlays, "true", "overlays API"),
    B("FEATURE_COMPLIANCE_LOGGING", feature_compliance_logging, "true",
      "also write every audit entry as an `audit` log line (ids only, no PII); the audit table is "
      "always kept"),
    D("GOVERNANCE_MIN_VOTING_HOURS", governance_min_voting_hours, "1", 1, 168,
      "lowest voting_duration_hours accepted (floor 1 h)"),
    I("GOVERNANCE_CLOSE_INTERVAL_S", governance_close_interval_s, "30", 1, 3600,
      "how often due proposals are closed"),
    I("RETENTION_DELETED_CAPSULES_DAYS", retention_deleted_capsules_days, "0", 0, 36500,
      "purge soft-deleted capsules after N days (0: keep)"),
    I("RETENTION_AUDIT_DAYS", retention_audit_days, "0", 0, 36500,
      "purge audit entries after N days (0: keep)"),
    I("RETENTION_OUTBOX_DAYS", retention_outbox_days, "7", 0, 36500,
      "purge delivered events after N days (0: keep)"),
    I("RETENTION_INTERVAL_S", retention_interval_s, "3600", 1, 604800,
      "how often the retention job runs (when any RETENTION_*_DAYS is set)"),
    I("HEADER_TIMEOUT_S", header_timeout_s, "10", 1, 3600,
      "request line + headers must arrive within this (from accept or the previous response); "
      "2 s while connections exceed 3/4 of MAX_CONNECTIONS"),
    I("ARGON2_QUEUE_MAX", argon2_queue_max, "64", 1, 100000,
      "requests waiting for the Argon2 pool (register, login, password change); 503 above"),
    S("EMBEDDING_LOCAL_MODEL", embedding_local_model, "local-hash-v1",
      "local embedder: local-hash-v1, or the experimental local-wordnet-v2 (a change needs forge "
      "reindex)"),
    S("EMBEDDING_MODEL_PATH", embedding_model_path, "",
      "model provider: directory with model.safetensors, tokenizer.json and config.json of a "
      "BERT-family sentence encoder (a change needs forge reindex)"),
    D("SEARCH_HOP_WEIGHT_DERIVED_FROM", hop_weight_derived_from, "1", 0, 1,
      "hybrid hop boost: weight of derived_from (lineage) edges (0: not walked)"),
    D("SEARCH_HOP_WEIGHT_SUPPORTS", hop_weight_supports, "1", 0, 1,
      "hybrid hop boost: weight of supports edges (0: not walked)"),
    D("SEARCH_HOP_WEIGHT_CONTRADICTS", hop_weight_contradicts, "1", 0, 1,
      "hybrid hop boost: weight of contradicts edges (0: not walked)"),
    D("SEARCH_HOP_WEIGHT_SUPERSEDES", hop_weight_supersedes, "1", 0, 1,
      "hybrid hop boost: weight of supersedes edges (0: not walked)"),
    D("SEARCH_HOP_WEIGHT_RELATED_TO", hop_weight_related_to, "1", 0, 1,
      "hybrid hop boost: weight of related_to edges (0: not walked)"),
    D("SEARCH_HOP_WEIGHT_REFERENCES", hop_weight_references, "1", 0, 1,
      "hybrid hop boost: weight of references edges (0: not walked)"),
    I("OVERLAY_WORKERS", overlay_workers, "2", 1, 64,
      "sandbox worker processes that run overlay calls (docs/overlays.md)"),
    D("GOVERNANCE_QUORUM", governance_quorum, "0.30", 0.10, 1,
      "participation a proposal needs (floor 0.10; proposals may only ask for more)"),
    D("GOVERNANCE_APPROVAL_THRESHOLD", governance_approval_threshold, "0.50", 0.50, 1,
      "approval a proposal needs (floor 0.50; proposals may only ask for more)"),
    B("MCP_HTTP_ENABLED", mcp_http_enabled, "true",
      "serve the Model Context Protocol at /mcp (Streamable HTTP; docs/mcp.md)"),
    S("MCP_ALLOWED_ORIGINS", mcp_allowed_origins, "",
      "comma-separated Origin values allowed on /mcp ('*' for any; empty: loopback origins only; "
      "requests without Origin are allowed)"),
    I("DATABASE_CACHE_MB", database_cache_mb, "64", 2, 65536,
      "SQLite page cache per connection, MiB (PRAGMA cache_size)"),
    I("DATABASE_MMAP_MB", database_mmap_mb, "0", 0, 1048576,
      "SQLite memory-mapped I/O per connection, MiB (PRAGMA mmap_size; 0: off, the default: "
      "a growing file is remapped by every connection, which capped a mixed load)"),
    I("DATABASE_CHECKPOINT_MS", database_checkpoint_ms, "1000", 50, 600000,
      "interval of the background WAL checkpoint (SQLite)"),
    I("DATABASE_WAL_MAX_MB", database_wal_max_mb, "64", 1, 65536,
      "WAL size past which the background checkpoint restarts and truncates the WAL (SQLite)"),
    S("CONSENT_PURPOSES", consent_purposes, "analytics,marketing,research",
      "consent purposes a user can grant or withdraw (comma-separated names [a-z0-9_], at most 32; "
      "docs/privacy.md)"),
    S("CONSENT_POLICY_VERSION", consent_policy_version, "1",
      "privacy policy version recorded with every consent change (docs/privacy.md)"),
};
#define NVARS (sizeof vars / sizeof vars[0])

const char *fg_env_name(enum fg_env e)
{
    return env_names[e <= FG_ENV_PRODUCTION ? e : 0];
}

static void errf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static const struct var *find_var(const char *name)
{
    for (size_t i = 0; i < NVARS; i++)
        if (strcmp(vars[i].name, name) == 0)
            return &vars[i];
    return NULL;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const t[] = {"1", "true", "yes", "on"};
    static const char *const f[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, f[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Parses and stores one value. Strings are duplicated; the previous value is freed. */
static int set_value(struct fg_config *c, const struct var *v, const char *s, char *err, size_t len)
{
    char *base = (char *)c + v->off;
    switch (v->type) {
    case T_STR:
    case T_SECRET: {
        if (strlen(s) > 4096) {
            errf(err, len, "%s: value too long (at most 4096 bytes)", v->name);
            return -1;
        }
        char **p = (char **)(void *)base;
        free(*p);
        *p = fg_xstrdup(s);
        return 0;
    }
    case T_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || end == s || *end != '\0' || x < v->min || x > v->max) {
            errf(err, len, "%s: expected an integer between %lld and %lld, got '%.64s'", v->name,
                 v->min, v->max, s);
            return -1;
        }
        *(long long *)(void *)base = x;
        return 0;
    }
    case T_DBL: {
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (errno || end == s || *end != '\0' || !isfinite(x) || x < v->dmin || x > v->dmax) {
            errf(err, len, "%s: expected a number between %g and %g, got '%.64s'", v->name, v->dmin,
                 v->dmax, s);
            return -1;
        }
        *(double *)(void *)base = x;
        return 0;
    }
    case T_BOOL: {
        int b;
        if (parse_bool(s, &b) != 0) {
            errf(err, len, "%s: expected true or false, got '%.64s'", v->name, s);
            return -1;
        }
        *(int *)(void *)base = b;
        return 0;
    }
    case T_ENUM: {
        for (long long i = 0; v->enums[i]; i++) {
            if (strcasecmp(v->enums[i], s) == 0) {
                if (v->off == OFF(embedding_provider)) {
                    char **p = (char **)(void *)base;
                    free(*p);
                    *p = fg_xstrdup(v->enums[i]);
                } else {
                    *(long long *)(void *)base = i;
                }
                return 0;
            }
        }
        char accepted[256] = "";
        size_t n = 0;
        for (size_t i = 0; v->enums[i]; i++)
            n += (size_t)snprintf(accepted + n, sizeof accepted - n, "%s%s", i ? ", " : "",
                                  v->enums[i]);
        errf(err, len, "%s: expected one of %s, got '%.64s'", v->name, accepted, s);
        return -1;
    }
    }
    return -1;
}

/* Reads KEY=VALUE lines; skips blanks and comments; strips `export ` and matching quotes.
 * Only keys absent from the environment are applied. */
static int load_env_file(struct fg_config *c, const char *path, int required, char *err, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (required) {
            errf(err, len, "FORGE_ENV_FILE: cannot open '%s'", path);
            return -1;
        }
        return 0;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '#' || *s == '\0')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s += 7;
        char *eq = strchr(s, '=');
        if (!eq) {
            errf(err, len, "%s:%d: expected KEY=VALUE", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = s, *val = eq + 1;
        size_t kl = strlen(key);
        while (kl && isspace((unsigned char)key[kl - 1]))
            key[--kl] = '\0';
        size_t vl = strlen(val);
        while (vl &&
               (val[vl - 1] == '\n' || val[vl - 1] == '\r' || isspace((unsigned char)val[vl - 1])))
            val[--vl] = '\0';
        while (isspace((unsigned char)*val))
            val++, vl--;
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
            val[vl - 1] = '\0';
            val++;
        }
        const struct var *v = find_var(key);
        if (!v || getenv(key))
            continue; /* unknown keys may belong to other tools; the environment wins */
        if (set_value(c, v, val, err, len) != 0) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static int hex_key_ok(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return 0;
    return 1;
}

static int load(struct fg_config *c, const char *env_file, char *err, size_t len);

int fg_config_load(struct fg_config *c, const char *env_file, char *err, size_t len)
{
    memset(c, 0, sizeof *c);
    if (load(c, env_file, err, len) != 0) {
        fg_config_free(c); /* nothing half-loaded is left to the caller */
        return -1;
    }
    return 0;
}

static int load(struct fg_config *c, const char *env_file, char *err, size_t len)
{
    for (size_t i = 0; i < NVARS; i++)
        if (set_value(c, &vars[i], vars[i].def, err, len) != 0)
            return -1;

    const char *file = env_file ? env_file : getenv("FORGE_ENV_FILE");
    if (load_env_file(c, file ? file : ".env", file != NULL, err, len) != 0)
        return -1;

    for (size_t i = 0; i < NVARS; i++) {
        const char *s = getenv(vars[i].name);
        if (s && set_value(c, &vars[i], s, err, len) != 0)
            return -1;
    }

    if (c->host[0] == '\0') {
        errf(err, len, "HOST: must not be empty");
        return -1;
    }
    if (strncmp(c->database_url, "sqlite://", 9) != 0 &&
        strncmp(c->database_url, "postgresql://", 13) != 0 &&
        strncmp(c->database_url, "postgres://", 11) != 0) {
        errf(err, len, "DATABASE_URL: expected sqlite:///path or postgresql://..., got '%.32s...'",
             strncmp(c->database_url, "postgres", 8) == 0 ? "postgres" : c->database_url);
        return -1;
    }
    if (c->master_key[0] && !hex_key_ok(c->master_key)) {
        errf(err, len, "FORGE_MASTER_KEY: expected 64 hexadecimal characters (32 bytes)");
        return -1;
    }
    if (c->jwt_secret[0] && strlen(c->jwt_secret) < 32 && c->environment != FG_ENV_DEVELOPMENT) {
        errf(err, len, "JWT_SECRET: must be at least 32 bytes outside development");
        return -1;
    }
    if (c->environment == FG_ENV_PRODUCTION) {
        if (strlen(c->jwt_secret) < 32) {
            errf(err, len, "JWT_SECRET: required in production, at least 32 bytes");
            return -1;
        }
        if (!c->master_key[0]) {
            errf(err, len, "FORGE_MASTER_KEY: required in production (64 hexadecimal characters)");
            return -1;
        }
    }
    if (c->jwt_secret[0] == '\0') {
        /* development/staging without a secret: an ephemeral one, tokens die with the process */
        unsigned char raw[32];
        char hex[65];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        free(c->jwt_secret);
        c->jwt_secret = fg_xstrdup(hex);
        c->jwt_secret_ephemeral = 1;
    }
    if (c->workers == 0) {
        long n = 4 * sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = n < 4 ? 4 : (n > 64 ? 64 : n);
    }
    return 0;
}

void fg_config_free(struct fg_config *c)
{
    for (size_t i = 0; i < NVARS; i++) {
        if (vars[i].type == T_STR || vars[i].type == T_SECRET ||
            vars[i].off == OFF(embedding_provider)) {
            char **p = (char **)(void *)((char *)c + vars[i].off);
            if (*p && (vars[i].type == T_SECRET))
                sodium_memzero(*p, strlen(*p));
            free(*p);
            *p = NULL;
        }
    }
}

static void format_value(const struct fg_config *c, const struct var *v, char *out, size_t len)
{
    const char *base = (const char *)c + v->off;
    switch (v->type) {
    case T_STR:
        snprintf(out, len, "%s", *(char *const *)(const void *)base);
        break;
    case T_SECRET: {
        const char *s = *(char *const *)(const void *)base;
        if (v->off == OFF(jwt_secret) && c->jwt_secret_ephemeral)
            snprintf(out, len, "<ephemeral, generated>");
        else
            snprintf(out, len, "%s", s && *s ? "****** (set)" : "");
        break;
    }
    /* scalars may change at run time (fg_config_set_runtime): atomic loads */
    case T_INT:
        snprintf(out, len, "%lld", fg_cfg_ll((const long long *)(const void *)base));
        break;
    case T_DBL:
        snprintf(out, len, "%g", fg_cfg_dbl((const double *)(const void *)base));
        break;
    case T_BOOL:
        snprintf(out, len, "%s", fg_cfg_int((const int *)(const void *)base) ? "true" : "false");
        break;
    case T_ENUM:
        if (v->off == OFF(embedding_provider))
            snprintf(out, len, "%s", *(char *const *)(const void *)base);
        else
            snprintf(out, len, "%s", v->enums[fg_cfg_ll((const long long *)(const void *)base)]);
        break;
    }
}

static void mask_url(char *s, size_t cap)
{
    /* scheme://user:password@host → scheme://user:******@host */
    char *scheme = strstr(s, "://");
    if (!scheme)
        return;
    char *at = strchr(scheme + 3, '@');
    if (!at)
        return;
    char *colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));
    if (!colon)
        return;
    char rest[4096];
    snprintf(rest, sizeof rest, "%s", at);
    snprintf(colon, cap - (size_t)(colon - s), ":******%s", rest);
}

int fg_config_get(const struct fg_config *c, const char *name, char *out, size_t len)
{
    const struct var *v = find_var(name);
    if (!v)
        return -1;
    format_value(c, v, out, len);
    if (v->off == OFF(database_url) || v->off == OFF(redis_url))
        mask_url(out, len);
    return 0;
}

void fg_config_print(const struct fg_config *c, FILE *out)
{
    char val[4200];
    for (size_t i = 0; i < NVARS; i++) {
        fg_config_get(c, vars[i].name, val, sizeof val);
        fprintf(out, "%-32s = %-28s # %s\n", vars[i].name, val, vars[i].desc);
    }
}

void fg_config_print_markdown(FILE *out)
{
    static const char *const tn[] = {"string", "secret", "integer", "number", "boolean", "enum"};
    fprintf(
        out,
        "# Configuration\n\n"
        "Generated by `forge config docs` from the table in `src/util/config.c`; a test fails\n"
        "when this file is out of date. Values come from the environment, then from `.env`\n"
        "(or the file named by `FORGE_ENV_FILE`); the environment wins. An invalid value stops\n"
        "the start with exit code 2 and a message naming the variable and what it accepts.\n"
        "`forge config check` prints the effective configuration with secrets masked.\n\n"
        "| variable | type | default | accepted | description |\n"
        "|---|---|---|---|---|\n");
    for (size_t i = 0; i < NVARS; i++) {
        const struct var *v = &vars[i];
        char acc[256] = "";
        if (v->type == T_INT)
            snprintf(acc, sizeof acc, "%lld – %lld", v->min, v->max);
        else if (v->type == T_DBL)
            snprintf(acc, sizeof acc, "%g – %g", v->dmin, v->dmax);
        else if (v->type == T_BOOL)
            snprintf(acc, sizeof acc, "true, false");
        else if (v->type == T_ENUM) {
            size_t n = 0;
            for (size_t k = 0; v->enums[k]; k++)
                n += (size_t)snprintf(acc + n, sizeof acc - n, "%s%s", k ? ", " : "", v->enums[k]);
        }
        fprintf(out, "| `%s` | %s | %s%s%s | %s | %s |\n", v->name, tn[v->type],
                v->def[0] ? "`" : "", v->def[0] ? v->def : "(empty)", v->def[0] ? "`" : "", acc,
                v->desc);
    }
}

int fg_config_set(struct fg_config *c, const char *name, const char *value, char *err, size_t len)
{
    const struct var *v = find_var(name);
    if (!v) {
        errf(err, len, "%s: unknown setting", name);
        return -1;
    }
    return set_value(c, v, value, err, len);
}

/* ---- runtime changes (config.h) ------------------------------------------------------------ */

static pthread_mutex_t runtime_mu = PTHREAD_MUTEX_INITIALIZER;

static int runtime_type_ok(const struct var *v)
{
    return v->type == T_INT || v->type == T_DBL || v->type == T_BOOL ||
           (v->type == T_ENUM && v->off != OFF(embedding_provider));
}

int fg_config_check(const char *name, const char *value, char *err, size_t len)
{
    const struct var *v = find_var(name);
    if (!v) {
        errf(err, len, "%s: unknown setting", name);
        return -1;
    }
    struct fg_config tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = set_value(&tmp, v, value, err, len);
    fg_config_free(&tmp);
    return rc;
}

int fg_config_runtime_settable(const char *name)
{
    const struct var *v = find_var(name);
    return v && runtime_type_ok(v);
}

int fg_config_set_runtime(struct fg_config *c, const char *name, const char *value, char *err,
                          size_t len)
{
    const struct var *v = find_var(name);
    if (!v) {
        errf(err, len, "%s: unknown setting", name);
        return -1;
    }
    if (!runtime_type_ok(v)) {
        errf(err, len, "%s: cannot be changed while the service runs", name);
        return -1;
    }
    struct fg_config tmp;
    memset(&tmp, 0, sizeof tmp);
    if (set_value(&tmp, v, value, err, len) != 0)
        return -1;
    const char *src = (const char *)&tmp + v->off;
    char *dst = (char *)c + v->off;
    pthread_mutex_lock(&runtime_mu);
    switch (v->type) {
    case T_INT:
    case T_ENUM:
        __atomic_store_n((long long *)(void *)dst, *(const long long *)(const void *)src,
                         __ATOMIC_RELAXED);
        break;
    case T_DBL: {
        double d = *(const double *)(const void *)src;
        __atomic_store((double *)(void *)dst, &d, __ATOMIC_RELAXED);
        break;
    }
    case T_BOOL:
        __atomic_store_n((int *)(void *)dst, *(const int *)(const void *)src, __ATOMIC_RELAXED);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&runtime_mu);
    return 0;
}
