/**
 * A reset is a flow: a persisted state machine in Clerk's vocabulary.
 *
 *   needs_first_factor ──(email link or code)──▶ needs_second_factor ──(challenge met, redirect continued)──▶ needs_new_password ──▶ complete
 *            │                     └──────(the post-challenge actions ask for nothing)──────▶┘
 *            └──▶ expired | denied (an action denied, threw, or ran out of time or memory)
 *
 * After the first factor the post-challenge pipeline (actions/) decides: Rekey's built-in rule demands a second
 * factor of an account that has one (SEC-36), and operator actions may demand more, redirect, or deny.
 *
 * This file holds the states and the pure transitions; nothing here does I/O.
 */
import type { FactorType } from '../factors/index.ts';

/** The first factors, each a `ResetStrategy` in strategies/ (registry.ts). */
export const FLOW_STRATEGIES = ['email_link', 'email_code'] as const;
export type FlowStrategy = (typeof FLOW_STRATEGIES)[number];

export const FLOW_STATUSES = ['needs_first_factor', 'needs_second_factor', 'needs_new_password', 'complete', 'expired', 'denied'] as const;
export type FlowStatus = (typeof FLOW_STATUSES)[number];

export interface ResetFlowsTable {
  id: string;
  application_id: string;
  strategy: FlowStrategy;
  status: FlowStatus;
  /** HMAC of the normalised email: the flow never keeps the identifier itself. */
  identifier_hash: string;
  /** Resolved off the request path by the dispatcher; never shown to the browser. */
  user_id: string | null;
  /** email_code: HMAC of `flowId:code`, so a code works only in its own flow (SEC-09). */
  code_hash: string | null;
  code_expires_at: number | null;
  /** Wrong codes so far; incremented atomically before each comparison (SEC-17). */
  code_attempts: number;
  /** HMAC of `flowId:grant`: what a verified factor gives; it can set the password and nothing else (SEC-37). */
  grant_hash: string | null;
  grant_expires_at: number | null;
  /** Already checked against the application's allow-list when the flow was created (SEC-23). */
  redirect_url: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
  completed_at: number | null;
}

export type ResetFlow = ResetFlowsTable;

/** What the browser may see of a flow. No email, no user id, no factor detail (SEC-04, SEC-05). */
export interface PublicFlow {
  object: 'reset_flow';
  id: string;
  strategy: FlowStrategy;
  status: FlowStatus;
  /** While the flow waits for a second factor: the types the account has enrolled. */
  supported_second_factors: FactorType[];
  expires_at: string;
}

/** A new flow waiting for its first factor: the one shape both the request path and a bare link open. */
export function openFlow(
  fields: Pick<ResetFlow, 'id' | 'application_id' | 'strategy' | 'identifier_hash' | 'user_id' | 'redirect_url' | 'expires_at'>,
  now: number,
): ResetFlow {
  return {
    ...fields,
    status: 'needs_first_factor',
    code_hash: null,
    code_expires_at: null,
    code_attempts: 0,
    grant_hash: null,
    grant_expires_at: null,
    created_at: now,
    updated_at: now,
    completed_at: null,
  };
}

/** A flow past its deadline reads as expired whatever its stored status. */
export function effectiveStatus(flow: ResetFlow, now: number): FlowStatus {
  if (flow.status === 'complete' || flow.status === 'denied') return flow.status;
  return flow.expires_at <= now ? 'expired' : flow.status;
}

/** SEC-37: the grant lives at most ten minutes. */
export const GRANT_TTL_MS = 10 * 60_000;
/** SEC-17: wrong codes allowed per issued code. */
export const MAX_CODE_ATTEMPTS = 5;
