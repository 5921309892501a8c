import { CofferError, cardRecordIntact, type ManagerRole, ROLE_LABEL, verifyChallenge } from '@coffer/core';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ManagementContext } from './context.js';
import type { LoginThrottle } from './login-throttle.js';
import { bearerToken, clientIp } from './management-http.js';
import { closed, DeviceInfo, ManagerRoleSchema, Ok } from './management-schemas.js';
import type { ChallengeStore, SessionStore } from './sessions.js';

const MANAGER_ROLES: readonly ManagerRole[] = ['system-manager', 'safe-manager', 'audit-manager'];

const CardId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' });
const Base64 = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9+/]+={0,2}$' });

const Session = Type.Object({
  account: Type.String(),
  role: ManagerRoleSchema,
  slot: Type.String(),
  cardId: Type.String(),
  clientIp: Type.String(),
  createdAt: Type.String(),
  lastSeenAt: Type.String(),
  idleTimeoutMs: Type.Integer(),
});

export interface SessionRouteDeps {
  context: ManagementContext;
  sessions: SessionStore;
  challenges: ChallengeStore;
  throttle: { card: LoginThrottle; ip: LoginThrottle };
}

/**
 * Login (manual §4.3, DESIGN §4 and §6): the client asks for a challenge for its card, unseals the
 * card locally with the PIN, signs the challenge (ECDSA P-256, SHA-256, P1363) and sends the
 * signature; the PIN never reaches the device. Also logout, whoami, device information (every role)
 * and the device CA certificate (public: clients pin it).
 */
export async function registerSessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): Promise<void> {
  const { context, sessions, challenges, throttle } = deps;
  const { device } = context;

  app.post(
    '/api/login/challenge',
    {
      config: { public: true },
      schema: {
        summary: 'Ask for a login challenge for a card',
        body: Type.Object({ cardId: CardId }, closed),
        response: {
          200: Type.Object({
            challenge: Type.String({ description: '32 random bytes, base64' }),
            expiresAt: Type.String(),
          }),
        },
      },
    },
    async (request) => {
      const { cardId } = request.body as { cardId: string };
      const { challenge, expiresAt } = challenges.issue(cardId);
      return { challenge: challenge.toString('base64'), expiresAt: new Date(expiresAt).toISOString() };
    },
  );

  app.post(
    '/api/login',
    {
      config: { public: true },
      schema: {
        summary: 'Log in with a manager card: the signature of the challenge',
        body: Type.Object(
          {
            cardId: CardId,
            challenge: Base64(64),
            signature: Base64(256),
          },
          closed,
        ),
        response: {
          200: Type.Object({
            token: Type.String(),
            account: Type.String(),
            role: ManagerRoleSchema,
            slot: Type.String(),
            idleTimeoutMs: Type.Integer(),
          }),
        },
      },
    },
    async (request) => {
      const body = request.body as { cardId: string; challenge: string; signature: string };
      const ip = clientIp(request);
      const wait = Math.max(throttle.card.retryAfterMs([body.cardId]), throttle.ip.retryAfterMs([ip]));
      let account = '-';
      const refuse = async (error: CofferError): Promise<never> => {
        throttle.card.fail([body.cardId]);
        throttle.ip.fail([ip]);
        await context.audit(request, {
          businessType: 'login',
          result: 'failure',
          account,
          content: `Login;card ${body.cardId}`,
          details: `${error.code}: ${error.message}`,
        });
        throw error;
      };
      if (wait > 0) {
        const error = new CofferError(
          'ERR_LOGIN_THROTTLED',
          `Too many failed logins; try again in ${Math.ceil(wait / 1000)} s.`,
          { retryAfterMs: wait },
        );
        await context.audit(request, {
          businessType: 'login',
          result: 'failure',
          content: `Login;card ${body.cardId}`,
          details: `${error.code}: ${error.message}`,
        });
        throw error;
      }
      let challenge: Buffer;
      try {
        challenge = challenges.take(body.challenge, body.cardId);
      } catch (error) {
        return refuse(error as CofferError);
      }
      const keyring = device.keyring();
      const record = await device.store.getCard(body.cardId);
      if (!record) {
        return refuse(new CofferError('ERR_CARD_UNKNOWN', 'This card is not registered on this device.'));
      }
      account = record.account;
      if (!cardRecordIntact(keyring, record)) {
        return refuse(
          new CofferError('ERR_INTEGRITY', 'The registry entry of this card failed its integrity check.', {
            slot: record.slot,
          }),
        );
      }
      if (record.status !== 'active') {
        return refuse(
          new CofferError(
            'ERR_CARD_REPLACED',
            `This ${record.slot} card has been replaced by a newer card and no longer works.`,
            { slot: record.slot },
          ),
        );
      }
      if (record.blocked) {
        return refuse(
          new CofferError('ERR_CARD_BLOCKED', `This ${record.slot} card is blocked; it must be remade.`, {
            slot: record.slot,
          }),
        );
      }
      if (!(MANAGER_ROLES as readonly string[]).includes(record.role)) {
        return refuse(
          new CofferError(
            'ERR_CARD_ROLE',
            `This is a ${ROLE_LABEL[record.role]} card (${record.slot}); log in with a System, Safe or Audit Manager card.`,
            { slot: record.slot },
          ),
        );
      }
      if (!verifyChallenge(record.publicKey, challenge, Buffer.from(body.signature, 'base64'))) {
        return refuse(
          new CofferError('ERR_CHALLENGE', 'The signature does not verify with this card’s key.', {
            slot: record.slot,
          }),
        );
      }
      const role = record.role as ManagerRole;
      const { token, session } = sessions.open({
        account: record.account,
        role,
        cardId: record.cardId,
        slot: record.slot,
        clientIp: ip,
      });
      request.manager = session;
      try {
        await context.audit(request, {
          businessType: 'login',
          content: `Login;${ROLE_LABEL[role]} ${record.slot}`,
          details: `card=${record.cardId}`,
        });
      } catch (error) {
        sessions.end(token); // no audit entry, no session
        throw error;
      }
      throttle.card.succeed([body.cardId]);
      throttle.ip.succeed([ip]);
      return { token, account: record.account, role, slot: record.slot, idleTimeoutMs: sessions.idleMs };
    },
  );

  app.post(
    '/api/logout',
    {
      config: { action: 'session.logout' },
      schema: { summary: 'End the session at once', response: { 200: Ok } },
    },
    async (request) => {
      await context.audit(request, { businessType: 'logout', content: 'Logout' });
      sessions.end(bearerToken(request) ?? '');
      return { ok: true };
    },
  );

  app.get(
    '/api/session',
    {
      config: { action: 'session.whoami' },
      schema: { summary: 'Who is logged in (the session)', response: { 200: Session } },
    },
    async (request) => {
      const s = request.manager!;
      return {
        account: s.account,
        role: s.role,
        slot: s.slot,
        cardId: s.cardId,
        clientIp: s.clientIp,
        createdAt: new Date(s.createdAt).toISOString(),
        lastSeenAt: new Date(s.lastSeenAt).toISOString(),
        idleTimeoutMs: sessions.idleMs,
      };
    },
  );

  app.get(
    '/api/device-info',
    {
      config: { action: 'device.info' },
      schema: { summary: 'Device information (§4.4.1.3; every role)', response: { 200: DeviceInfo } },
    },
    async () => device.deviceInfo(),
  );

  app.get(
    '/api/ca',
    {
      config: { public: true },
      schema: {
        summary: 'The device CA certificate (PEM) that issued this service’s TLS certificate',
        response: { 200: Type.Object({ certPem: Type.String() }) },
      },
    },
    async () => {
      const domain = await device.store.getDomain();
      if (!domain) throw new CofferError('ERR_STATE_UNINITIALISED', 'The device is not initialised.');
      return { certPem: domain.caCertPem };
    },
  );
}
