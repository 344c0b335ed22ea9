import type { OutcomeResult, ResourceKind } from '../db/schema/command.entity';

export type { OutcomeResult, ResourceKind };

/**
 * What a carried-out command did, in the domain's words: the aggregate it created or changed and
 * whether its work is done or goes on (a capture, a refund). Commands and effects return this; only
 * the HTTP layer turns it into a status code and a view.
 */
export interface DomainOutcome {
  kind: ResourceKind;
  id: string;
  result: OutcomeResult;
}
