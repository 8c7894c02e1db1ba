import type { ApiKeysTable, ApplicationsTable } from '../apps/app.table.ts';
import type { DevMailboxTable, OutboxTable } from '../delivery/outbox.table.ts';
import type { AuthFactorsTable, PendingAuthenticationsTable } from '../factors/factor.table.ts';
import type { ResetFlowsTable } from '../resets/flow.ts';
import type { PasswordResetsTable } from '../resets/reset.table.ts';
import type { SessionsTable } from '../sessions/session.table.ts';
import type { UsersTable } from '../users/user.table.ts';

/** The union of every module's tables. Modules own their tables; this file only assembles them. */
export interface Database {
  applications: ApplicationsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  sessions: SessionsTable;
  password_resets: PasswordResetsTable;
  reset_flows: ResetFlowsTable;
  outbox: OutboxTable;
  dev_mailbox: DevMailboxTable;
  auth_factors: AuthFactorsTable;
  pending_authentications: PendingAuthenticationsTable;
}
