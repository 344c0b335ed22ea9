// Logs one line through the shop's logger, as `npm start` would: the log-format test runs this in a
// child process whose stdout is a pipe or a pseudo-terminal.
import { createLogger } from '../../src/logger';

createLogger({ logLevel: 'info' }, { role: 'sample' }).info({ orderId: 'order-1' }, 'order placed');
