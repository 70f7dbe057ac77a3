// The labelled corpus of bench/mcp: 20 target memories, each with one paraphrased query that
// shares (almost) no words with it, plus deterministic filler memories about services, teams
// and decisions (distractors that mention the same kinds of things). Same corpus for both servers.

export const TARGETS = [
  ["Production database backups run nightly at 02:00 UTC using pgBackRest and are retained for 30 days.",
    "when are the postgres snapshots taken and how long do we keep them"],
  ["New engineers get laptop access only after the security awareness training is completed on their first day.",
    "what must a new hire finish before receiving a computer"],
  ["The payment gateway retries failed card charges three times with exponential backoff.",
    "how often does billing reattempt a declined credit card"],
  ["We chose Rust over Go for the ingestion pipeline because of predictable memory use.",
    "why was the data intake service written in Rust instead of Go"],
  ["Customer support is available around the clock for enterprise plans and during business hours for the other plans.",
    "what hours can premium clients reach the help desk"],
  ["The staging environment is reset every Sunday night from an anonymized production snapshot.",
    "how often is the test environment refreshed with masked live data"],
  ["Feature flags are managed in LaunchDarkly and must be removed within 90 days of a full rollout.",
    "how long can a toggle stay in the code after a feature ships to everyone"],
  ["The mobile app supports iOS 16 and Android 12 or newer.",
    "which phone operating system versions does our app require"],
  ["Expense reports above 500 euros need approval from a department head.",
    "who has to sign off large reimbursement claims"],
  ["TLS certificates are issued by Let's Encrypt and renewed automatically by cert-manager 30 days before expiry.",
    "how do our https certificates get renewed"],
  ["The search service caches query results in Redis for five minutes.",
    "how long are lookup responses kept in the in-memory store"],
  ["Code reviews require two approvals, one of them from a code owner, before merging to main.",
    "how many reviewers must accept a pull request"],
  ["Incident postmortems are written within five business days and are blameless.",
    "deadline for the write-up after an outage"],
  ["The data warehouse is Snowflake; dashboards are built in Looker.",
    "which analytics database and BI tool do we use"],
  ["Kubernetes clusters are upgraded quarterly, staging first and production two weeks later.",
    "what is the schedule for updating our container orchestration platform"],
  ["Passwords must be at least 14 characters long and are checked against breached password lists.",
    "what are the rules for account credential length and leaked secrets"],
  ["The marketing site is a static Next.js export hosted on Cloudflare Pages.",
    "where is the public website deployed and what framework generates it"],
  ["Log retention is 14 days in Loki and one year in cold storage on S3 Glacier.",
    "how long do we keep application logs"],
  ["The API rate limit for free accounts is 60 requests per minute.",
    "how many calls per minute can a non-paying customer make"],
  ["The office guest Wi-Fi password rotates on the first Monday of every month.",
    "how often does the visitor wireless passphrase change"],
];

const SVC = ["orders", "inventory", "checkout", "notifications", "profile", "catalog", "pricing",
  "shipping", "auth-proxy", "reporting", "recommendations", "ledger", "invoicing", "media",
  "geocoder", "scheduler", "audit-trail", "webhooks", "exports", "onboarding"];
const TEAM = ["platform", "payments", "growth", "core-api", "data", "mobile", "infra", "identity",
  "fulfilment", "insights"];
const REGION = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1"];
const STORE = ["PostgreSQL", "Redis", "Kafka", "S3", "DynamoDB", "Elasticsearch", "ClickHouse"];
const LIB = ["gRPC", "OpenTelemetry", "Temporal", "Envoy", "Celery", "Sidekiq", "Hasura", "Debezium"];
const PERSON = ["Alice Moreau", "Bogdan Ilic", "Chen Wei", "Dana Okafor", "Emil Larsen",
  "Fatima Zahra", "Gustavo Reis", "Hana Kobayashi", "Ivan Petrov", "Julia Novak"];
const VENDOR = ["Stripe", "Twilio", "SendGrid", "Segment", "Zendesk", "Algolia", "Auth0", "Datadog"];
const THING = ["order events", "stock levels", "invoices", "push receipts", "image thumbnails",
  "price changes", "delivery scans", "user sign-ups", "refund requests", "search logs"];

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function fillers(n, seed = 22) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const T = [
    () => `The ${pick(SVC)} service is owned by the ${pick(TEAM)} team and deployed to ${pick(REGION)}.`,
    () => `${pick(SVC)} exposes metrics on port ${9000 + Math.floor(r() * 900)} and pages the ${pick(TEAM)} team when the error rate exceeds ${1 + Math.floor(r() * 9)} percent.`,
    () => `Meeting notes: the ${pick(TEAM)} team agreed to move ${pick(SVC)} from ${pick(STORE)} to ${pick(STORE)} by Q${1 + Math.floor(r() * 4)}.`,
    () => `The ${pick(SVC)} worker processes ${pick(THING)} every ${1 + Math.floor(r() * 59)} minutes and writes the results to ${pick(STORE)}.`,
    () => `Decision: ${pick(SVC)} uses ${pick(LIB)} because it was the only option with built-in retries and tracing.`,
    () => `Runbook: if ${pick(SVC)} returns HTTP ${pick([500, 502, 503, 504])} errors, restart its pods and check the ${pick(STORE)} connection pool.`,
    () => `${pick(PERSON)} is the technical contact for the ${pick(VENDOR)} integration used by ${pick(SVC)}.`,
    () => `The ${pick(SVC)} API answers in under ${20 + Math.floor(r() * 280)} ms at the 95th percentile after the ${pick(LIB)} upgrade.`,
    () => `${pick(PERSON)} from ${pick(TEAM)} reviews every schema change to the ${pick(SVC)} tables in ${pick(STORE)}.`,
    () => `Batch job ${pick(SVC)}-${Math.floor(r() * 1000)} exports ${pick(THING)} to ${pick(VENDOR)} nightly.`,
  ];
  const out = [];
  for (let i = 0; i < n; i++) out.push(`${pick(T)()} (ref ${i})`);
  return out;
}
