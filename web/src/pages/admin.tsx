import { useState } from "preact/hooks";
import { api, currentUser, qs, setUser } from "../api";
import type { User } from "../api";
import { navigate, useLocation } from "../router";
import { ErrorBox, Notice, Pager, shortId, Title, TRUSTS, useLoad, when } from "../ui";

const ROLES = ["user", "trusted", "operator", "admin"];

function AdminNav({ path }: { path: string }) {
  const items: [string, string][] = [
    ["/admin/users", "Users"],
    ["/admin/immune", "Immune responses"],
    ["/admin/audit", "Audit log"],
  ];
  return (
    <nav class="tabs" aria-label="Admin sections">
      {items.map(([h, l]) => (
        <a href={h} aria-current={path === h || (path === "/admin" && h === "/admin/users") ? "page" : undefined}>
          {l}
        </a>
      ))}
    </nav>
  );
}

function UserRow({ u0 }: { u0: User }) {
  const [u, setU] = useState(u0);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");
  const [roles, setRoles] = useState<string[]>(u0.roles);
  const me = currentUser();
  async function act(fn: () => Promise<User>, done: string) {
    setErr(null);
    setMsg("");
    try {
      const nu = await fn();
      setU(nu);
      setRoles(nu.roles);
      if (me && nu.id === me.id) setUser(nu);
      setMsg(done);
    } catch (e) {
      setErr(e);
    }
  }
  const label = u.display_name || u.email;
  return (
    <li class="user card" data-email={u.email}>
      <div class="item-head">
        <strong>{u.email}</strong>
        {u.display_name && <span class="muted">{u.display_name}</span>}
        {u.disabled && <span class="badge bad">disabled</span>}
        {u.mfa_enabled && <span class="badge">MFA</span>}
        <span class="muted small">last sign-in {when(u.last_login_at)}</span>
      </div>
      <div class="row wrap">
        <div class="field">
          <label for={`trust-${u.id}`}>Trust of {label}</label>
          <select id={`trust-${u.id}`} value={u.trust_level} onChange={(e) => act(async () => (await api<User>("PUT", `admin/users/${u.id}/trust`, { trust_level: e.currentTarget.value })).data, "Trust changed.")}>
            {TRUSTS.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </div>
        <fieldset class="roles">
          <legend>Roles of {label}</legend>
          {ROLES.map((r) => (
            <label class="check">
              <input type="checkbox" checked={roles.includes(r)} onChange={(e) => setRoles(e.currentTarget.checked ? [...roles, r] : roles.filter((x) => x !== r))} /> {r}
            </label>
          ))}
          <button type="button" disabled={roles.join() === u.roles.join()} onClick={() => act(async () => (await api<User>("PUT", `admin/users/${u.id}/roles`, { roles })).data, "Roles saved.")}>
            Save roles
          </button>
        </fieldset>
        <div class="field">
          {u.disabled ? (
            <button type="button" onClick={() => act(async () => (await api<User>("POST", `admin/users/${u.id}/enable`, {})).data, "Account enabled.")}>
              Enable {label}
            </button>
          ) : (
            <button type="button" class="danger" onClick={() => act(async () => (await api<User>("POST", `admin/users/${u.id}/disable`, {})).data, "Account disabled.")}>
              Disable {label}
            </button>
          )}
        </div>
      </div>
      {msg && <Notice>{msg}</Notice>}
      <ErrorBox error={err} />
    </li>
  );
}

export function AdminUsers() {
  const loc = useLocation();
  const page = Number(loc.query.get("page") || "1") || 1;
  const list = useLoad(() => api<User[]>("GET", `admin/users${qs({ page, per_page: 20 })}`), [page]);
  return (
    <section>
      <Title text="Admin: users" />
      <AdminNav path={loc.path} />
      <ErrorBox error={list.error} />
      {list.data && (
        <>
          <ul class="plain users" data-testid="user-list">
            {list.data.data.map((u) => (
              <UserRow u0={u} key={u.id + u.updated_at} />
            ))}
          </ul>
          <Pager meta={list.data.meta} onPage={(n) => navigate(`/admin/users?page=${n}`)} />
        </>
      )}
    </section>
  );
}

interface Immune {
  id: string;
  threat_type: string;
  level: string;
  target_type: string;
  target_id: string;
  action: string;
  reason: string;
  created_at: string;
  expires_at: string | null;
}

export function AdminImmune() {
  const loc = useLocation();
  const page = Number(loc.query.get("page") || "1") || 1;
  const list = useLoad(() => api<Immune[]>("GET", `immune/responses${qs({ page, per_page: 20 })}`), [page]);
  return (
    <section>
      <Title text="Admin: immune responses" />
      <AdminNav path={loc.path} />
      <ErrorBox error={list.error} />
      {list.data && (
        <>
          {list.data.data.length === 0 && <p class="muted">No immune responses recorded.</p>}
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Immune responses, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Threat</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {list.data.data.map((r) => (
                  <tr>
                    <td>{when(r.created_at)}</td>
                    <td>
                      {r.threat_type} ({r.level})
                    </td>
                    <td>{r.action}</td>
                    <td>
                      {r.target_type} {r.target_type === "user" ? shortId(r.target_id) : r.target_id}
                    </td>
                    <td>{r.reason}</td>
                    <td>{when(r.expires_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager meta={list.data.meta} onPage={(n) => navigate(`/admin/immune?page=${n}`)} />
        </>
      )}
    </section>
  );
}

interface Audit {
  seq: number;
  at: string;
  actor_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  outcome: string;
  hash: string;
}

export function AdminAudit() {
  const loc = useLocation();
  const page = Number(loc.query.get("page") || "1") || 1;
  const action = loc.query.get("action") || "";
  const [filter, setFilter] = useState(action);
  const list = useLoad(() => api<Audit[]>("GET", `admin/audit${qs({ page, per_page: 25, action })}`), [page, action]);
  const [verify, setVerify] = useState<any>(null);
  const [err, setErr] = useState<unknown>(null);
  return (
    <section>
      <Title text="Admin: audit log" />
      <AdminNav path={loc.path} />
      <div class="row wrap">
        <form
          class="row"
          onSubmit={(ev) => {
            ev.preventDefault();
            navigate(`/admin/audit${qs({ action: filter.trim() })}`);
          }}
        >
          <div class="field">
            <label for="audit-action">Action</label>
            <input id="audit-action" value={filter} placeholder="e.g. capsule.create" onInput={(e) => setFilter(e.currentTarget.value)} />
          </div>
          <button type="submit">Filter</button>
        </form>
        <button
          type="button"
          class="primary"
          onClick={async () => {
            setErr(null);
            try {
              setVerify((await api("GET", "admin/audit/verify")).data);
            } catch (e) {
              setErr(e);
            }
          }}
        >
          Verify hash chain
        </button>
      </div>
      <ErrorBox error={err || list.error} />
      {verify && (
        <div class={"alert " + (verify.valid ? "ok" : "error")} role="status" data-testid="verify-result">
          {verify.valid ? `Chain intact: ${verify.entries} entries verified, head #${verify.head_seq} ${String(verify.head_hash).slice(0, 16)}…` : `Chain broken at entry #${verify.first_bad_seq}: ${verify.reason}`}
        </div>
      )}
      {list.data && (
        <>
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Audit entries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {list.data.data.map((a) => (
                  <tr>
                    <td>{a.seq}</td>
                    <td>{when(a.at)}</td>
                    <td>{a.action}</td>
                    <td>
                      {a.resource_type} {shortId(a.resource_id)}
                    </td>
                    <td>{shortId(a.actor_id)}</td>
                    <td>{a.outcome}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager meta={list.data.meta} onPage={(n) => navigate(`/admin/audit${qs({ page: n, action })}`)} />
        </>
      )}
    </section>
  );
}
