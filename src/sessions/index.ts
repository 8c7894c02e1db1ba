/** The sessions module's door: sessions, sign-in and their wire shapes. */
import { defineModule } from '../platform/module.ts';
import { sessionsMigrations } from './migrations.ts';
import { createSessionsModule } from './sessions.module.ts';

export { createSessionsModule, type SessionsModule } from './sessions.module.ts';
export const sessionsModule = defineModule('sessions', sessionsMigrations, createSessionsModule);

export type { IssuedSession, IssueInput, Session, SessionService, SessionStatus } from './session.service.ts';
export type { SessionsTable, SignInDevicesTable } from './session.table.ts';
export { sessionObject, toWireSession } from './session.wire.ts';
export type { SignInContext, SignInOutcome, SignInService } from './sign-in.ts';
export { sessionsMigrations };
