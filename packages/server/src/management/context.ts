import type { Device, ManagementAction, ManagerRole, StoreTx } from '@coffer/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RunningLogFiles } from '../daemon/running-log-files.js';

/** A logged-in manager (manual §4.3): the card's role and account; ends after 10 minutes idle. */
export interface ManagerSession {
  id: string;
  account: string; // adminB1, adminC1, adminD1…
  role: ManagerRole;
  cardId: string;
  slot: string;
  clientIp: string;
  createdAt: number;
  lastSeenAt: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The management function a route performs. Every management route declares one; the global
     * onRequest hook (before the body is read) refuses the request unless a session exists (ERR_SESSION_REQUIRED /
     * ERR_SESSION_EXPIRED) and `authorizeManagement(role, action)` allows it (ERR_FORBIDDEN).
     * Routes that need no session (the login handshake, the OpenAPI document, the web UI's files)
     * declare `public: true` instead.
     */
    action?: ManagementAction;
    public?: boolean;
  }
  interface FastifyRequest {
    /** Set by the onRequest hook for every route with an `action`. */
    manager?: ManagerSession;
  }
}

/** One management audit entry (source `management`), as the manual's log table shows it. */
export interface ManagementAuditEntry {
  /** add, update, delete, download, login, logout, query… */
  businessType: string;
  /** e.g. "Add operator [app1];", "Set key status;Key index number:21" */
  content: string;
  details?: string;
  result?: 'success' | 'failure';
  /** The account to record when there is no session yet (a failed login); the session's otherwise. */
  account?: string;
}

/** What every slice of the management service is given. */
export interface ManagementContext {
  device: Device;
  /** The running log's files and parameters (the Audit Manager's); absent when the app runs without a daemon. */
  runningLog?: RunningLogFiles;
  /**
   * Writes the audit entry of a management action with the session's account and client IP. Call it
   * inside the store transaction that makes the change, so that if the entry cannot be written the
   * change does not happen. Never put secrets (PINs, key material) into `content` or `details`.
   */
  audit(request: FastifyRequest, entry: ManagementAuditEntry, tx?: StoreTx): Promise<void>;
  /**
   * Runs one management change and records it, like the device's ceremony steps: `fn` calls
   * `commit(tx, details?)` inside the store transaction that makes the change (the success entry is
   * written in that transaction); if `fn` never calls it, it is called after `fn` returns. If `fn`
   * throws before committing, a failure entry with the error code is written and the error rethrown.
   */
  step<T>(
    request: FastifyRequest,
    entry: Omit<ManagementAuditEntry, 'result'>,
    fn: (commit: (tx?: StoreTx, details?: string) => Promise<void>) => Promise<T>,
  ): Promise<T>;
}

/** A slice registers its routes (System, Safe, Audit Manager) on the management app. */
export type ManagementSlice = (app: FastifyInstance, context: ManagementContext) => Promise<void> | void;
