// The admin role: the control-plane HTTP API on FLOWHOOK_ADMIN_PORT (apart from the metrics
// port). It follows flowhook.flows and flowhook.audit, and writes flow changes with their audit
// entries through one transactional producer.
//
// Sign-in: bearer JWTs from FLOWHOOK_OIDC_ISSUER. Without an issuer, an embedded issuer for one
// local user with password + TOTP (local-issuer.ts, at /oidc), verified exactly like an external
// one — and then only on a loopback address: a non-loopback bind without an issuer refuses to
// start. There is no unauthenticated mode.

import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ActivityIngest, createActivityStore, type ActivityStore } from '../activity';
import { AuditLog } from '../app/audit';
import type { AppDeps } from '../app/deps';
import { FlowPublisher } from '../app/publish';
import { ConfigError } from '../errors';
import { flowSigner } from '../flows/signature';
import { KafkaReviewActions } from '../review/actions';
import type { Role, RoleContext } from '../service/role';
import { OidcAuthenticator, RefusingAuthenticator, type Authenticator } from './auth';
import { FlowView } from './flow-view';
import { LOCAL_CONSOLE_CLIENT_ID, startLocalIssuer, type LocalIssuer } from './local-issuer';
import { buildAdminServer, type SignInConfig } from './server';
import type { AdminServices, ReviewActions } from './types';

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
  /** Where the local sign-in's first-start enrolment is printed (default stderr). */
  print?: (text: string) => void;
  /**
   * Without `activity` and `review`, the role runs its own activity store, ingest and review
   * actions (default true); false leaves those routes answering 503 (tests of other parts).
   */
  ownActivityStore?: boolean;
}

export class AdminRole implements Role {
  readonly name = 'admin' as const;
  private readonly app: AppDeps;
  private readonly flows: FlowView;
  private readonly audit: AuditLog;
  private readonly publisher: FlowPublisher;
  private server: FastifyInstance | undefined;
  /** The activity store, its ingest and the review actions, when this role runs its own. */
  private owned:
    { store: ActivityStore; ingest: ActivityIngest; review: KafkaReviewActions } | undefined;
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
  private authenticator(): Authenticator | 'local' {
    if (this.options.authenticator) return this.options.authenticator;
    const { admin } = this.ctx.config;
    if (admin.oidc.issuer) return this.oidc(admin.oidc.issuer);
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
    return 'local';
  }

  private oidc(issuer: string): OidcAuthenticator {
    const { oidc } = this.ctx.config.admin;
    return new OidcAuthenticator({
      issuer,
      audience: oidc.audience,
      roleClaim: oidc.roleClaim,
      algorithms: oidc.algorithms,
    });
  }

  async start(): Promise<void> {
    const chosen = this.authenticator();
    // The local issuer's URL needs the bound port: requests are refused until it runs.
    let authenticator: Authenticator =
      chosen === 'local' ? new RefusingAuthenticator('the local sign-in is starting') : chosen;
    let localIssuer: LocalIssuer | undefined;
    const { oidc } = this.ctx.config.admin;
    let signIn: SignInConfig | undefined = oidc.issuer
      ? {
          issuer: oidc.issuer,
          client_id: oidc.consoleClientId,
          audience: oidc.audience,
          ...(URL.canParse(oidc.audience) ? { resource: oidc.audience } : {}),
          scope: oidc.consoleScope,
          local: false,
        }
      : undefined;
    await Promise.all([this.flows.start(), this.audit.start()]);
    const { config } = this.ctx;
    if (!this.options.activity && !this.options.review && this.options.ownActivityStore !== false) {
      this.owned = await this.startActivity();
    }
    const activity = this.options.activity ?? this.owned?.store;
    const owned = this.owned;
    const review: ReviewActions | undefined =
      this.options.review ??
      (owned && {
        // The audit's actor keeps a missing email as null; the review records leave it out.
        release: (id, actor) =>
          owned.review.release(id, { ...actor, email: actor.email ?? undefined }),
        discard: (id, actor) =>
          owned.review.discard(id, { ...actor, email: actor.email ?? undefined }),
      });
    const signer = flowSigner(config.flowSigning);
    this.server = buildAdminServer({
      app: this.app,
      authenticator: { authenticate: (header) => authenticator.authenticate(header) },
      signIn: () => signIn,
      oidcMount: () => (localIssuer ? (req, res) => localIssuer?.handle(req, res) : undefined),
      mfa: { amr: config.admin.oidc.mfaAmr, acr: config.admin.oidc.mfaAcr },
      flows: this.flows,
      audit: this.audit,
      publisher: this.publisher,
      activity,
      review,
      sign: signer ? (doc, publisher) => signer.sign(doc, publisher) : undefined,
    });
    await this.server.listen({ port: config.admin.port, host: config.admin.host });
    this.port = (this.server.server.address() as AddressInfo).port;
    if (chosen === 'local') {
      const host = config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host;
      const issuer = `http://${host}:${this.port}/oidc`;
      localIssuer = await startLocalIssuer({
        issuer,
        consoleRedirectUris: [
          `http://${host}:${this.port}/console/`,
          ...(config.admin.host === '127.0.0.1' || config.admin.host === '::1'
            ? [`http://localhost:${this.port}/console/`]
            : []),
        ],
        audience: config.admin.oidc.audience,
        roleClaim: config.admin.oidc.roleClaim,
        stateDir: config.admin.stateDir,
        print: this.options.print ?? ((text) => process.stderr.write(`${text}\n`)),
      });
      authenticator = this.oidc(issuer);
      signIn = {
        issuer,
        client_id: LOCAL_CONSOLE_CLIENT_ID,
        audience: config.admin.oidc.audience,
        resource: localIssuer.resource,
        scope: 'openid api',
        local: true,
      };
      this.ctx.logger.info({ issuer }, 'admin sign-in: embedded local issuer (loopback only)');
    }
    this.listening = true;
    this.ctx.logger.info({ port: this.port, host: config.admin.host }, 'admin API listening');
  }

  /** The activity store (SQLite, or PostgreSQL when configured), kept up to date from Kafka. */
  private async startActivity(): Promise<NonNullable<AdminRole['owned']>> {
    const { kafka, topics, config, logger, metrics } = this.ctx;
    const store = await createActivityStore(config.activity, { logger });
    const ingest = new ActivityIngest({
      store,
      kafka,
      topics,
      topicPrefix: config.topicPrefix,
      retentionMs: config.activity.retentionMs,
      pruneIntervalMs: config.activity.pruneIntervalMs,
      logger,
      metrics,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    });
    await ingest.start();
    const review = new KafkaReviewActions({
      kafka,
      topics,
      store,
      logger,
      transactionalId: `${config.topicPrefix}review-${config.instanceId}`,
    });
    await review.start();
    return { store, ingest, review };
  }

  isReady(): boolean {
    return this.listening && this.flows.isCaughtUp() && (this.owned?.ingest.isReady() ?? true);
  }

  failure(): Error | undefined {
    return this.owned?.ingest.failure();
  }

  /** Idempotent: HTTP first (no new requests), then the writer, then the readers. */
  stop(): Promise<void> {
    this.closing ??= (async () => {
      this.listening = false;
      await this.server?.close();
      await this.publisher.close();
      if (this.owned) {
        await this.owned.review.stop();
        await this.owned.ingest.stop();
        await this.owned.store.close();
      }
      await Promise.all([this.flows.stop(), this.audit.stop()]);
    })();
    return this.closing;
  }
}
