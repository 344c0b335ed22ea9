import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { OrderMachineView } from '../../orders/order-machine-view';
import { HIGHLIGHT_CLASSES, mermaidId } from '../../statecharts/mermaid';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const STYLE = `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1f2937; background: #f8fafc; }
  header { padding: 14px 24px; background: #111827; color: #f9fafb; }
  header h1 { margin: 0; font-size: 18px; }
  main { padding: 16px 24px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #f1f5f9; vertical-align: top; }
  th { font-weight: 600; color: #475569; }
  code { font: 12px ui-monospace, monospace; }
  .legend span { display: inline-block; padding: 1px 8px; border-radius: 4px; margin-right: 8px; }
  .legend .current { background: #fde68a; border: 2px solid #b45309; }
  .legend .visited { background: #dbeafe; border: 2px solid #2563eb; }
  tr.current td { background: #fef3c7; font-weight: 600; }
  #diagram { overflow-x: auto; }
  #diagram svg { max-width: none !important; }
`;

// Renders the diagram, then marks the current state's node so tests and tools can find it.
const SCRIPT = `
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default' });
  mermaid.run({ querySelector: '#diagram' }).then(() => {
    const current = document.body.dataset.currentNode;
    if (current) {
      // mermaid ids its state nodes '<diagram>-state-<id>-<n>'.
      const node = [...document.querySelectorAll('#diagram svg g.node.statediagram-state[id]')]
        .find((g) => g.id.replace(/-[0-9]+$/, '').endsWith('-state-' + current));
      if (node) node.setAttribute('data-current-state', 'true');
    }
    document.body.dataset.rendered = 'true';
  }, (error) => {
    document.body.dataset.rendered = 'failed';
    document.getElementById('diagram').textContent = String(error);
  });
`;

/** The order-machine visualizer: the diagram, the machine's tables, live counts, one order's journey. */
export function orderMachinePage(view: OrderMachineView, nonce: string): Html {
  const { graph, order } = view;
  const currentNode = order ? mermaidId(order.state) : '';
  return html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Order machine v${view.version}${order ? ` — order ${order.orderId}` : ''}</title>
  <style>${raw(STYLE)}</style>
</head>
<body data-current-node="${currentNode}" data-current-state="${order?.state ?? ''}">
  <header><h1>Order machine v${view.version}</h1></header>
  <main>
    ${order ? orderSection(view) : ''}
    <section>
      <h2>Diagram</h2>
      <p class="legend"><span class="${HIGHLIGHT_CLASSES.current}">current state</span><span class="${HIGHLIGHT_CLASSES.visited}">visited</span>
        Generated from <code>machines/order.machine.ts</code> (also at <a href="/api/v1/machines/order">/api/v1/machines/order</a>).</p>
      <pre id="diagram" class="mermaid">${view.mermaid}</pre>
    </section>
    <section>
      <h2>${view.counts ? 'States and live orders' : 'States'}</h2>
      <table id="states">
        <tr><th>state</th><th>type</th><th>entry</th><th>${view.counts ? 'orders now' : ''}</th></tr>
        ${graph.states.map(
          (s) => html`<tr class="${s.path === order?.state ? 'current' : ''}" data-state="${s.path}">
            <td><code>${s.path}</code></td><td>${s.type}</td><td>${s.entry.join(', ')}</td>
            <td class="count">${s.type === 'atomic' && view.counts ? (view.counts[s.path] ?? 0) : ''}</td></tr>`,
        )}
      </table>
    </section>
    <section>
      <h2>Transitions</h2>
      <table id="transitions">
        <tr><th>from</th><th>event</th><th>guard</th><th>to</th><th>actions</th></tr>
        ${graph.transitions.map(
          (t) => html`<tr><td><code>${t.source}</code></td><td><code>${t.event}</code></td>
            <td>${t.guard ?? ''}</td><td><code>${t.targets.join(', ') || '(stays)'}</code></td>
            <td>${t.actions.join(', ')}</td></tr>`,
        )}
      </table>
    </section>
    <section>
      <h2>Events, guards, delays, actions</h2>
      <p><strong>Events:</strong> <span id="events">${graph.events.join(', ')}</span></p>
      <p><strong>Guards:</strong> <span id="guards">${graph.guards.join(', ')}</span></p>
      <p><strong>Delays:</strong> <span id="delays">${graph.delays
        .map((d) => `${d.name} (in ${d.state} → ${d.targets.join(', ')})`)
        .join('; ')}</span></p>
      <p><strong>Actions:</strong> ${graph.actions.join(', ')}</p>
    </section>
  </main>
  <script src="/machines/assets/mermaid.min.js"></script>
  <script nonce="${nonce}">${raw(SCRIPT)}</script>
</body>
</html>`;
}

function orderSection(view: OrderMachineView): Html {
  const order = view.order!;
  return html`<section id="order">
    <h2>Order <code>${order.orderId}</code></h2>
    <p>Status <strong>${order.status}</strong>, state <strong id="current-state">${order.state}</strong>.
      Allowed now: ${order.allowedEvents.join(', ') || 'nothing'}.</p>
    <p>Path: <span id="path">${view.path.join(' → ')}</span></p>
    <table id="history">
      <tr><th>at</th><th>event</th><th>from</th><th>to</th></tr>
      ${order.history.map(
        (t) => html`<tr><td>${t.at}</td><td><code>${t.event}</code></td>
          <td><code>${t.from ?? '(new)'}</code></td><td><code>${t.to}</code></td></tr>`,
      )}
    </table>
  </section>`;
}
