import { defineEntity, p } from '@mikro-orm/postgresql';

/** Message ids a consumer has applied, recorded in the same transaction: a redelivery is a no-op. */
export const ProcessedMessageSchema = defineEntity({
  name: 'ProcessedMessage',
  tableName: 'processed_messages',
  properties: {
    consumer: p.string().length(40).primary(),
    messageId: p.string().length(120).primary(),
    processedAt: p.datetime(),
  },
  indexes: [{ name: 'processed_messages_processed_at_index', properties: ['processedAt'] }],
});
export class ProcessedMessage extends ProcessedMessageSchema.class {}
ProcessedMessageSchema.setClass(ProcessedMessage);
