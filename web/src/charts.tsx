// Two small SVG pictures drawn by hand (no chart library): a vault's activity per hour as
// stacked bars, and a secret's versions on a time line. Colours come from CSS classes (the CSP
// allows no style attributes); each picture has a text equivalent for screen readers.
import type { ActivityBucket, AuditEvent, VersionEntry } from "./api";
import { fmtTime } from "./ui";

const W = 760;
const H = 200;
const PAD = { l: 40, r: 10, t: 10, b: 28 };

export function ActivityChart({ buckets }: { buckets: ActivityBucket[] }) {
  const totals = buckets.map((b) => b.reads + b.writes + b.refusals);
  const max = Math.max(1, ...totals);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const bw = iw / Math.max(1, buckets.length);
  const y = (v: number) => (v / max) * ih;
  const sum = (k: "reads" | "writes" | "refusals") => buckets.reduce((a, b) => a + b[k], 0);
  const dayTicks = buckets
    .map((b, i) => ({ b, i }))
    .filter(({ b }) => new Date(b.start).getUTCHours() === 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="act-desc" data-testid="activity-chart">
        <title id="act-desc">
          {`Activity per hour over ${buckets.length} hours: ${sum("reads")} reads, ${sum("writes")} writes, ${sum("refusals")} refusals`}
        </title>
        <line class="axis" x1={PAD.l} y1={PAD.t + ih} x2={W - PAD.r} y2={PAD.t + ih} />
        <line class="axis" x1={PAD.l} y1={PAD.t} x2={PAD.l} y2={PAD.t + ih} />
        <text class="tick" x={PAD.l - 4} y={PAD.t + 8} text-anchor="end">
          {max}
        </text>
        <text class="tick" x={PAD.l - 4} y={PAD.t + ih} text-anchor="end">
          0
        </text>
        {buckets.map((b, i) => {
          const x = PAD.l + i * bw + 0.5;
          const w = Math.max(1, bw - 1);
          let base = PAD.t + ih;
          const parts: [string, number][] = [
            ["bar-read", b.reads],
            ["bar-write", b.writes],
            ["bar-refusal", b.refusals],
          ];
          return (
            <g key={b.start}>
              {parts.map(([cls, v]) => {
                if (!v) return null;
                const h = y(v);
                base -= h;
                return (
                  <rect class={cls} x={x} y={base} width={w} height={h}>
                    <title>{`${fmtTime(b.start)}: ${v} ${cls.slice(4)}s`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
        {dayTicks.map(({ b, i }) => (
          <text key={b.start} class="tick" x={PAD.l + i * bw} y={H - 8} text-anchor="middle">
            {b.start.slice(5, 10)}
          </text>
        ))}
      </svg>
      <figcaption>
        <span class="key key-read" aria-hidden="true" /> reads {sum("reads")}
        <span class="key key-write" aria-hidden="true" /> writes {sum("writes")}
        <span class="key key-refusal" aria-hidden="true" /> refusals {sum("refusals")}
      </figcaption>
    </figure>
  );
}

interface Mark {
  t: number;
  kind: "version" | "rotation" | "disable" | "expiry" | "destroy";
  label: string;
}

/** A secret's versions, rotations, disables and expiries on one time axis. */
export function Timeline({ versions, events }: { versions: VersionEntry[]; events: AuditEvent[] }) {
  const marks: Mark[] = [];
  for (const v of versions) {
    marks.push({ t: Date.parse(v.created_at), kind: "version", label: `v${v.version} created ${fmtTime(v.created_at)}` });
    if (v.disabled_at) marks.push({ t: Date.parse(v.disabled_at), kind: "disable", label: `v${v.version} disabled ${fmtTime(v.disabled_at)}` });
    if (v.expires_at) marks.push({ t: Date.parse(v.expires_at), kind: "expiry", label: `v${v.version} expires ${fmtTime(v.expires_at)}` });
    if (v.destroyed_at) marks.push({ t: Date.parse(v.destroyed_at), kind: "destroy", label: `v${v.version} destroyed ${fmtTime(v.destroyed_at)}` });
  }
  for (const e of events) {
    if (e.outcome !== "success") continue;
    if (e.action === "secret.rotate" || e.action === "secret.rotated") {
      marks.push({ t: Date.parse(e.at), kind: "rotation", label: `rotated${e.version ? ` to v${e.version}` : ""} ${fmtTime(e.at)}` });
    }
  }
  const ts = marks.map((m) => m.t).filter((t) => !isNaN(t));
  if (!ts.length) return <p>No versions yet.</p>;
  const now = Date.now();
  const t0 = Math.min(...ts);
  const t1 = Math.max(now, ...ts);
  const span = Math.max(1, t1 - t0);
  const iw = W - 40;
  const x = (t: number) => 20 + ((t - t0) / span) * iw;
  const rows: Record<Mark["kind"], number> = { version: 40, rotation: 70, disable: 100, destroy: 100, expiry: 130 };
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} 170`} role="img" aria-labelledby="tl-desc" data-testid="timeline">
        <title id="tl-desc">{`Timeline of ${versions.length} versions`}</title>
        {(["version", "rotation", "disable", "expiry"] as const).map((k) => (
          <g key={k}>
            <line class="lane" x1={20} x2={W - 20} y1={rows[k]} y2={rows[k]} />
            <text class="tick" x={20} y={rows[k] - 8}>
              {k === "disable" ? "disables" : k === "expiry" ? "expiry" : `${k}s`}
            </text>
          </g>
        ))}
        <line class="now" x1={x(now)} x2={x(now)} y1={20} y2={145} />
        <text class="tick" x={x(now)} y={160} text-anchor="end">
          now
        </text>
        <text class="tick" x={20} y={160}>
          {fmtTime(new Date(t0).toISOString())}
        </text>
        {marks.map((m, i) =>
          m.kind === "version" ? (
            <circle key={i} class="mark-version" cx={x(m.t)} cy={rows.version} r={6}>
              <title>{m.label}</title>
            </circle>
          ) : (
            <rect key={i} class={`mark-${m.kind}`} x={x(m.t) - 5} y={rows[m.kind] - 5} width={10} height={10}>
              <title>{m.label}</title>
            </rect>
          ),
        )}
      </svg>
      <figcaption>
        <ul class="sr-only">
          {marks
            .slice()
            .sort((a, b) => a.t - b.t)
            .map((m, i) => (
              <li key={i}>{m.label}</li>
            ))}
        </ul>
      </figcaption>
    </figure>
  );
}
