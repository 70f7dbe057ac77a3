// The API client: bearer tokens kept in sessionStorage (per tab, gone when the tab closes),
// refreshed before they expire and once more on a 401; errors surface as ApiError carrying the
// server's {code, message, details}.

export interface User {
  id: string;
  email: string;
  display_name: string | null;
  trust_level: string;
  roles: string[];
  mfa_enabled: boolean;
  disabled: boolean;
  created_at: string;
  updated_at?: string;
  last_login_at?: string | null;
}

interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  user: User;
}

export class ApiError extends Error {
  status: number;
  code: string;
  details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
  /** The request field the server blamed (422 details.field), if any. */
  get field(): string | null {
    const f = this.details.field;
    return typeof f === "string" ? f : null;
  }
}

const KEY = "forge.session";
type Listener = () => void;
const listeners = new Set<Listener>();
let session: { access: string; refresh: string; expiresAt: number; user: User } | null = null;
let refreshTimer: number | undefined;
let refreshing: Promise<boolean> | null = null;

try {
  const raw = sessionStorage.getItem(KEY);
  if (raw) session = JSON.parse(raw);
} catch {
  session = null;
}

function save() {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
  schedule();
}

function schedule() {
  if (refreshTimer !== undefined) clearTimeout(refreshTimer);
  refreshTimer = undefined;
  if (!session) return;
  // refresh a minute before the access token expires
  const ms = Math.max(5_000, session.expiresAt - Date.now() - 60_000);
  refreshTimer = window.setTimeout(() => void refreshSession(), ms);
}

export function onSessionChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function currentUser(): User | null {
  return session ? session.user : null;
}

export function sessionExpiresAt(): number | null {
  return session ? session.expiresAt : null;
}

export function isAdmin(u: User | null = currentUser()): boolean {
  return !!u && u.roles.includes("admin");
}

export function canPropose(u: User | null = currentUser()): boolean {
  return !!u && u.roles.some((r) => r === "trusted" || r === "operator" || r === "admin");
}

function take(t: Tokens) {
  session = {
    access: t.access_token,
    refresh: t.refresh_token,
    expiresAt: Date.now() + t.expires_in * 1000,
    user: t.user,
  };
  save();
}

async function raw(method: string, path: string, body?: unknown, token?: string | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = "Bearer " + token;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
}

async function parse<T>(r: Response): Promise<{ data: T; meta: Record<string, unknown> }> {
  if (r.status === 204) return { data: undefined as T, meta: {} };
  let j: any = null;
  try {
    j = await r.json();
  } catch {
    j = null;
  }
  if (!r.ok) {
    if (j && typeof j.code === "string") throw new ApiError(r.status, j.code, j.message || j.code, j.details || {});
    throw new ApiError(r.status, "http_error", `HTTP ${r.status}`, {});
  }
  if (j && "data" in j) return { data: j.data as T, meta: j.meta || {} };
  return { data: j as T, meta: {} };
}

/** Signs in (mfa_code only for accounts with two-factor authentication); throws ApiError. */
export async function login(email: string, password: string, mfaCode?: string): Promise<User> {
  const body: Record<string, string> = { email, password };
  if (mfaCode) body.mfa_code = mfaCode;
  const { data } = await parse<Tokens>(await raw("POST", "/api/v1/auth/login", body));
  take(data);
  return data.user;
}

/** Rotates both tokens. Returns false (and signs out) when the session is gone. */
export function refreshSession(): Promise<boolean> {
  if (!session) return Promise.resolve(false);
  if (refreshing) return refreshing;
  const rt = session.refresh;
  refreshing = (async () => {
    try {
      const { data } = await parse<Tokens>(await raw("POST", "/api/v1/auth/refresh", { refresh_token: rt }));
      take(data);
      return true;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        session = null;
        save();
      }
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function logout(): Promise<void> {
  const t = session?.access;
  session = null;
  save();
  if (t) {
    try {
      await raw("POST", "/api/v1/auth/logout", undefined, t);
    } catch {
      /* the session is dropped locally either way */
    }
  }
}

/** Updates the cached user (after /auth/me or an admin change to oneself). */
export function setUser(u: User) {
  if (session) {
    session.user = u;
    save();
  }
}

/** Calls the API with the session's token; one refresh-and-retry on 401. */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<{ data: T; meta: any }> {
  const url = path.startsWith("/") ? path : "/api/v1/" + path;
  let r = await raw(method, url, body, session?.access);
  if (r.status === 401 && session) {
    if (await refreshSession()) r = await raw(method, url, body, session?.access);
    else {
      session = null;
      save();
    }
  }
  return parse<T>(r);
}

export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? "?" + s : "";
}

schedule();
