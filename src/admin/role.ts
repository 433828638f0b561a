// The admin role: the control-plane HTTP API on FLOWHOOK_ADMIN_PORT (apart from the metrics
// port). It follows flowhook.flows and flowhook.audit, and writes flow changes with their audit
// entries through one transactional producer.
//
// Sign-in: bearer JWTs from FLOWHOOK_OIDC_ISSUER. Without an issuer, an embedded issuer for one
// local user with TOTP (local-issuer.ts) — and then only on a loopback address: a non-loopback
// bind without an issuer refuses to start.

import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AuditLog } from '../app/audit';
import type { AppDeps } from '../app/deps';
import { FlowPublisher } from '../app/publish';
import { ConfigError } from '../errors';
import { flowSigner } from '../flows/signature';
import type { Role, RoleContext } from '../service/role';
import { OidcAuthenticator, RefusingAuthenticator, type Authenticator } from './auth';
import { FlowView } from './flow-view';
import { buildAdminServer, type AdminServerDeps } from './server';
import type { AdminServices } from './types';

export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export interface AdminRoleOptions extends AdminServices {
  /** Replaces the sign-in built from the settings (tests of other parts). */
  authenticator?: Authenticator;
  /** Extra AdminServerDeps (signing, flow checks), for the wiring of later features. */
  server?: Partial<Pick<AdminServerDeps, 'sign' | 'flowChecks'>>;
}

export class AdminRole implements Role {
  readonly name = 'admin' as const;
  private readonly app: AppDeps;
  private readonly flows: FlowView;
  private readonly audit: AuditLog;
  private readonly publisher: FlowPublisher;
  private server: FastifyInstance | undefined;
  private listening = false;
  private closing: Promise<void> | undefined;
  /** Bound port (FLOWHOOK_ADMIN_PORT, or the one picked for 0). */
  port = 0;

  constructor(
    private readonly ctx: RoleContext,
    private readonly options: AdminRoleOptions = {},
  ) {
    const { kafka, topics, config, logger } = ctx;
    this.app = { kafka, topics, config, logger };
    this.flows = new FlowView(kafka, topics.flows, logger);
    this.audit = new AuditLog(kafka, topics.audit, logger);
    this.publisher = new FlowPublisher(this.app, `flowhook-admin-${config.instanceId}`);
  }

  /** The sign-in this process uses; refuses to start rather than run without one. */
  private authenticator(): Authenticator {
    if (this.options.authenticator) return this.options.authenticator;
    const { admin } = this.ctx.config;
    if (admin.oidc.issuer) {
      return new OidcAuthenticator({
        issuer: admin.oidc.issuer,
        audience: admin.oidc.audience,
        roleClaim: admin.oidc.roleClaim,
        algorithms: admin.oidc.algorithms,
      });
    }
    if (!isLoopbackHost(admin.host)) {
      throw new ConfigError([
        {
          name: 'FLOWHOOK_ADMIN_HOST',
          value: admin.host,
          allowed:
            'a loopback address (127.0.0.1, ::1) when FLOWHOOK_OIDC_ISSUER is not set: the embedded local sign-in is for one person on this machine',
        },
      ]);
    }
    return new RefusingAuthenticator(
      'no sign-in is configured: set FLOWHOOK_OIDC_ISSUER to your OpenID Connect issuer',
    );
  }

  async start(): Promise<void> {
    const authenticator = this.authenticator();
    await Promise.all([this.flows.start(), this.audit.start()]);
    const { config } = this.ctx;
    const signer = flowSigner(config.flowSigning);
    this.server = buildAdminServer({
      app: this.app,
      authenticator,
      mfa: { amr: config.admin.oidc.mfaAmr, acr: config.admin.oidc.mfaAcr },
      flows: this.flows,
      audit: this.audit,
      publisher: this.publisher,
      activity: this.options.activity,
      review: this.options.review,
      sign: signer ? (doc, publisher) => signer.sign(doc, publisher) : undefined,
      ...this.options.server,
    });
    await this.server.listen({ port: config.admin.port, host: config.admin.host });
    this.port = (this.server.server.address() as AddressInfo).port;
    this.listening = true;
    this.ctx.logger.info({ port: this.port, host: config.admin.host }, 'admin API listening');
  }

  isReady(): boolean {
    return this.listening && this.flows.isCaughtUp();
  }

  failure(): Error | undefined {
    return undefined;
  }

  /** Idempotent: HTTP first (no new requests), then the writer, then the readers. */
  stop(): Promise<void> {
    this.closing ??= (async () => {
      this.listening = false;
      await this.server?.close();
      await this.publisher.close();
      await Promise.all([this.flows.stop(), this.audit.stop()]);
    })();
    return this.closing;
  }
}
