import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { renderMarkdown } from "./md";

export function Markdown({ src, class: cls }: { src: string; class?: string }) {
  return <div class={"md " + (cls || "")} dangerouslySetInnerHTML={{ __html: renderMarkdown(src) }} />;
}

/** An error the server sent, shown as an alert with its code. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as ApiError;
  const msg = e instanceof ApiError ? e.message : String((error as Error).message || error);
  return (
    <div class="alert error" role="alert">
      {msg}
      {e instanceof ApiError && <span class="code"> ({e.code})</span>}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div class="alert ok" role="status">
      {children}
    </div>
  );
}

/** The message for `name` when the server's 422 blamed that field. */
export function fieldError(err: unknown, ...names: string[]): string | null {
  if (err instanceof ApiError && err.field) {
    const f = err.field;
    if (names.some((n) => f === n || f.startsWith(n + ".") || f.startsWith(n + "["))) return err.message;
  }
  return null;
}

/** The error to show above a form: anything not attached to one of its fields. */
export function formError(err: unknown, fields: string[]): unknown {
  if (err instanceof ApiError && err.field && fields.some((n) => fieldError(err, n))) return null;
  return err;
}

let uid = 0;
export function useId(prefix: string): string {
  const r = useRef<string>();
  if (!r.current) r.current = `${prefix}-${++uid}`;
  return r.current;
}

interface FieldProps {
  label: string;
  error?: string | null;
  hint?: string;
  children: (id: string, describedBy: string | undefined) => ComponentChildren;
}

/** A labelled control with the server's validation message right below it. */
export function Field({ label, error, hint, children }: FieldProps) {
  const id = useId("f");
  const errId = id + "-err";
  const hintId = id + "-hint";
  const by = [error ? errId : "", hint ? hintId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={"field" + (error ? " invalid" : "")}>
      <label for={id}>{label}</label>
      {children(id, by)}
      {hint && (
        <div class="hint" id={hintId}>
          {hint}
        </div>
      )}
      {error && (
        <div class="field-error" id={errId} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

export function Pager({ meta, onPage }: { meta: any; onPage: (p: number) => void }) {
  if (!meta || !meta.pages || meta.pages <= 1) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={meta.page <= 1} onClick={() => onPage(meta.page - 1)}>
        Previous
      </button>
      <span>
        Page {meta.page} of {meta.pages} ({meta.total})
      </span>
      <button type="button" disabled={meta.page >= meta.pages} onClick={() => onPage(meta.page + 1)}>
        Next
      </button>
    </nav>
  );
}

/** Loads data for a page; reload() runs it again. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | null; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  const key = JSON.stringify(deps);
  const lastKey = useRef(key);
  useEffect(() => {
    let live = true;
    // new inputs: drop the old data (it belongs to other inputs); a reload() keeps it meanwhile
    const changed = lastKey.current !== key;
    lastKey.current = key;
    setState((s) => ({ data: changed ? null : s.data, error: null, loading: true }));
    fn().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line
  }, [...deps, n]);
  // until the effect has run for new inputs, never hand out data that belongs to the old ones
  const fresh = lastKey.current === key;
  return { ...state, data: fresh ? state.data : null, loading: fresh ? state.loading : true, reload: () => setN((x) => x + 1) };
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function shortId(id: string | null | undefined): string {
  return id ? id.slice(-8) : "—";
}

export function Title({ text }: { text: string }) {
  useEffect(() => {
    document.title = text + " · Forge";
  }, [text]);
  return <h1 tabIndex={-1} id="page-title">{text}</h1>;
}

export const TYPES = ["knowledge", "code", "decision", "insight", "config", "policy"];
export const TRUSTS = ["core", "trusted", "standard", "sandbox", "quarantine"];
