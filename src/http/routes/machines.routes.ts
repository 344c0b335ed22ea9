import { createRoute, z } from '@hono/zod-openapi';
import { describeMachine, listMachines } from '../../statecharts/machine-registry';
import { dataEnvelope } from '../envelope';
import { createRouter, errorResponses, jsonContent } from '../openapi';
import { MachineDescriptionSchema, MachineNameParam, MachineSummarySchema } from '../schemas/machine.schemas';

const list = createRoute({
  method: 'get',
  path: '/',
  tags: ['Machines'],
  summary: 'The state machines the shop runs',
  responses: {
    200: jsonContent(dataEnvelope(z.array(MachineSummarySchema)), 'Each machine with its states and events'),
  },
});

const describe = createRoute({
  method: 'get',
  path: '/{name}',
  tags: ['Machines'],
  summary: "A machine's definition, generated from the machine itself, with a mermaid diagram",
  request: { params: MachineNameParam },
  responses: {
    200: jsonContent(dataEnvelope(MachineDescriptionSchema), 'The machine'),
    ...errorResponses('NOT_FOUND'),
  },
});

/** Mounted at /machines. Public: the definitions are the same code anyone can read in the repository. */
export function machineRoutes() {
  return createRouter()
    .openapi(list, (c) => c.json({ data: listMachines() }, 200))
    .openapi(describe, (c) => c.json({ data: describeMachine(c.req.valid('param').name) }, 200));
}
