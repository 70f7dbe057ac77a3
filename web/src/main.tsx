import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { render } from "preact";
import { lazy, Suspense } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import { currentUser, isAdmin, logout, onSessionChange } from "./api";
import { match, navigate, useLocation } from "./router";
import { Login } from "./pages/login";
import { Account } from "./pages/account";
import { CapsuleList, CapsuleNew } from "./pages/capsules";
import { CapsulePage } from "./pages/capsule";
import { Governance, ProposalNew } from "./pages/governance";
import { ProposalPage } from "./pages/proposal";
import { AdminAudit, AdminImmune, AdminUsers } from "./pages/admin";
import { OverlayList, OverlayNew, OverlayPage } from "./pages/overlays";
import { Contradictions } from "./pages/contradictions";

// The system page carries uPlot: loaded only when visited.
const System = lazy(() => import("./pages/system").then((m) => ({ default: m.System })));

function useUser() {
  const [u, setU] = useState(currentUser());
  useEffect(() => onSessionChange(() => setU(currentUser())), []);
  return u;
}

function NavLink({ href, label, path }: { href: string; label: string; path: string }) {
  const active = path === href || (href !== "/" && path.startsWith(href + "/"));
  return (
    <a href={href} aria-current={active ? "page" : undefined}>
      {label}
    </a>
  );
}

function Header({ path }: { path: string }) {
  const u = useUser();
  if (!u) return null;
  return (
    <header class="top">
      <a class="brand" href="/capsules" aria-label="Forge home">
        Forge
      </a>
      <nav aria-label="Main">
        <NavLink href="/capsules" label="Capsules" path={path} />
        <NavLink href="/governance" label="Governance" path={path} />
        <NavLink href="/overlays" label="Overlays" path={path} />
        {isAdmin(u) && <NavLink href="/admin" label="Admin" path={path} />}
        <NavLink href="/system" label="System" path={path} />
        <NavLink href="/account" label="Account" path={path} />
      </nav>
      <button
        type="button"
        class="link"
        onClick={async () => {
          await logout();
          navigate("/login");
        }}
      >
        Sign out
      </button>
    </header>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at this address. Go to the <a href="/capsules">capsules</a>.
      </p>
    </section>
  );
}

function Routes({ path }: { path: string }) {
  let p: Record<string, string> | null;
  if (path === "/" || path === "/capsules") return <CapsuleList />;
  if (path === "/capsules/new") return <CapsuleNew />;
  if ((p = match("/capsules/:id", path))) return <CapsulePage id={p.id} />;
  if (path === "/governance") return <Governance />;
  if (path === "/governance/new") return <ProposalNew />;
  if ((p = match("/governance/:id", path))) return <ProposalPage id={p.id} />;
  if (path === "/contradictions") return <Contradictions />;
  if (path === "/overlays") return <OverlayList />;
  if (path === "/overlays/new") return <OverlayNew />;
  if ((p = match("/overlays/:id", path))) return <OverlayPage id={p.id} />;
  if (path === "/admin" || path === "/admin/users") return <AdminUsers />;
  if (path === "/admin/immune") return <AdminImmune />;
  if (path === "/admin/audit") return <AdminAudit />;
  if (path === "/account") return <Account />;
  if (path === "/system")
    return (
      <Suspense fallback={<p>Loading…</p>}>
        <System />
      </Suspense>
    );
  return <NotFound />;
}

function App() {
  const loc = useLocation();
  const u = useUser();
  const path = loc.path;
  useEffect(() => {
    if (!u && path !== "/login") navigate("/login?next=" + encodeURIComponent(location.pathname + location.search), true);
  }, [u, path]);
  useEffect(() => {
    // move focus to the new page's heading so screen readers and keyboards start there
    const h = document.getElementById("page-title");
    if (h && document.activeElement === document.body) h.focus({ preventScroll: true });
  }, [path]);
  if (path === "/login") return <Login next={loc.query.get("next")} />;
  if (!u) return null;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header path={path} />
      <main id="main">
        <Routes path={path} />
      </main>
    </>
  );
}

const root = document.getElementById("app")!;
root.textContent = "";
render(<App />, root);
