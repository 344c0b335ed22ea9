import { z } from '@hono/zod-openapi';

export const MachineNameParam = z.object({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be a machine name such as "order"')
    .openapi({ param: { name: 'name', in: 'path' }, example: 'order' }),
});

export const MachineSummarySchema = z
  .object({
    name: z.string().openapi({ example: 'order' }),
    version: z.number().int(),
    states: z.array(z.string()).openapi({ example: ['PENDING', 'PENDING.awaitingPayment'] }),
    events: z.array(z.string()).openapi({ example: ['PAY', 'CANCEL'] }),
  })
  .openapi('MachineSummary');

const StateNodeSchema = z
  .object({
    path: z.string(),
    key: z.string(),
    parent: z.string().nullable(),
    type: z.enum(['atomic', 'compound', 'parallel', 'final', 'history']),
    initial: z.string().nullable(),
    entry: z.array(z.string()),
    exit: z.array(z.string()),
  })
  .openapi('MachineStateNode');

const TransitionSchema = z
  .object({
    source: z.string(),
    event: z.string().openapi({ description: 'The event, or `after <delay>` for a delayed transition' }),
    delay: z.string().nullable(),
    guard: z.string().nullable(),
    targets: z.array(z.string()).openapi({ description: 'Empty when the transition stays in its state' }),
    actions: z.array(z.string()),
  })
  .openapi('MachineTransition');

export const MachineDescriptionSchema = MachineSummarySchema.extend({
  initial: z.string(),
  stateNodes: z.array(StateNodeSchema),
  transitions: z.array(TransitionSchema),
  guards: z.array(z.string()),
  actions: z.array(z.string()),
  delays: z.array(z.object({ name: z.string(), state: z.string(), targets: z.array(z.string()) })),
  definition: z.record(z.string(), z.unknown()).openapi({ description: "xstate's machine.toJSON()" }),
  mermaid: z.string().openapi({ description: 'A mermaid stateDiagram-v2 generated from the machine' }),
}).openapi('MachineDescription');
