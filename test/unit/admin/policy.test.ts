import {
  authorizeFlowWrite,
  can,
  describeFlowChange,
  hasMfa,
  roleFromClaims,
  webhookChanges,
  type Principal,
} from '../../../src/admin/policy';
import { bearerToken, principalFromClaims } from '../../../src/admin/auth';

const MFA = { amr: ['mfa', 'otp', 'hwk', 'swk'], acr: ['urn:example:mfa'] };

function who(role: Principal['role'], amr: string[] = [], acr: string | null = null): Principal {
  return { subject: `${role}-1`, email: null, role, amr, acr };
}

function flow(
  webhooks: Record<string, Record<string, unknown>>,
  extra: Record<string, unknown> = {},
) {
  return {
    id: 'f',
    name: 'f',
    status: 'live',
    version: 1,
    ...extra,
    definition: {
      triggers: [{ type: 'metric', id: 'Placed Order' }],
      entry_action_id: 'a',
      actions: [
        { id: 'email', type: 'send-email', data: {} },
        ...Object.entries(webhooks).map(([id, message]) => ({
          id,
          type: 'send-webhook',
          data: { status: 'live', message },
        })),
      ],
    },
  };
}

const hook = {
  url: 'https://crm.example.com/in',
  headers: { 'X-Key': '{{ secrets.crm }}' },
  body: '{}',
};

describe('roles', () => {
  it.each([
    [{ flowhook_role: 'Manager' }, 'flowhook_role', 'manager'],
    [{ flowhook_role: 'superuser' }, 'flowhook_role', 'viewer'],
    [{}, 'flowhook_role', 'viewer'],
    [{ flowhook_role: 7 }, 'flowhook_role', 'viewer'],
    [{ realm: { roles: ['analyst', 'owner', 'x'] } }, 'realm.roles', 'owner'],
  ])('%j at %s is %s', (claims, path, role) => {
    expect(roleFromClaims(claims, path)).toBe(role);
  });

  it('lets everyone read, and manager and above edit and operate', () => {
    for (const role of ['owner', 'admin', 'manager'] as const) {
      expect(can(who(role), 'edit_flows')).toBe(true);
      expect(can(who(role), 'operate')).toBe(true);
    }
    for (const role of ['analyst', 'viewer'] as const) {
      expect(can(who(role), 'read')).toBe(true);
      expect(can(who(role), 'edit_flows')).toBe(false);
      expect(can(who(role), 'operate')).toBe(false);
    }
  });
});

describe('MFA evidence', () => {
  it('is an amr value or the acr among the configured ones', () => {
    expect(hasMfa(who('manager', ['pwd', 'otp']), MFA)).toBe(true);
    expect(hasMfa(who('manager', ['pwd']), MFA)).toBe(false);
    expect(hasMfa(who('manager', ['pwd'], 'urn:example:mfa'), MFA)).toBe(true);
    expect(hasMfa(who('manager', [], 'urn:example:pwd'), MFA)).toBe(false);
  });
});

describe('webhookChanges', () => {
  it('names a new flow with a webhook, an added webhook and each changed field', () => {
    expect(webhookChanges(null, flow({ crm: hook }))).toEqual(['creates webhook action crm']);
    expect(webhookChanges(flow({}), flow({ crm: hook }))).toEqual(['adds webhook action crm']);
    expect(
      webhookChanges(
        flow({ crm: hook }),
        flow({ crm: { ...hook, url: 'https://evil.example/x' } }),
      ),
    ).toEqual(['changes the URL of webhook crm']);
    expect(
      webhookChanges(
        flow({ crm: hook }),
        flow({
          crm: {
            ...hook,
            headers: { 'X-Key': '{{ secrets.other }}' },
            body: '{"a":1}',
            signing_secret: 's',
          },
        }),
      ),
    ).toEqual(['changes the headers, body, signing secret of webhook crm']);
  });

  it('does not count removals, key order, or changes elsewhere in the flow', () => {
    expect(webhookChanges(flow({ crm: hook }), flow({}))).toEqual([]);
    const reordered = { body: hook.body, headers: { ...hook.headers }, url: hook.url };
    expect(
      webhookChanges(
        flow({ crm: hook }),
        flow({ crm: reordered }, { name: 'new name', status: 'draft' }),
      ),
    ).toEqual([]);
    expect(webhookChanges(null, flow({}))).toEqual([]);
  });
});

describe('authorizeFlowWrite', () => {
  it('refuses analysts and viewers any write', () => {
    for (const role of ['analyst', 'viewer'] as const) {
      expect(() =>
        authorizeFlowWrite(who(role, ['otp']), flow({}), flow({}, { name: 'x' }), MFA),
      ).toThrow(expect.objectContaining({ code: 'FLOWHOOK_ERR_FORBIDDEN' }));
      expect(() => authorizeFlowWrite(who(role, ['otp']), flow({}), null, MFA)).toThrow(
        expect.objectContaining({ code: 'FLOWHOOK_ERR_FORBIDDEN' }),
      );
    }
  });

  it('requires MFA to create, add or change a webhook, and says why', () => {
    const noMfa = who('owner', ['pwd']);
    expect(() =>
      authorizeFlowWrite(
        noMfa,
        flow({ crm: hook }),
        flow({ crm: { ...hook, url: 'https://x.example/' } }),
        MFA,
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'FLOWHOOK_ERR_MFA_REQUIRED',
        message: expect.stringMatching(/changes the URL of webhook crm.*two-step authentication/),
      }),
    );
    expect(() => authorizeFlowWrite(noMfa, null, flow({ crm: hook }), MFA)).toThrow(
      expect.objectContaining({ code: 'FLOWHOOK_ERR_MFA_REQUIRED' }),
    );
    expect(() =>
      authorizeFlowWrite(who('manager', ['pwd', 'hwk']), null, flow({ crm: hook }), MFA),
    ).not.toThrow();
  });

  it('lets a manager without MFA edit what is not a webhook, remove a webhook, or delete', () => {
    const noMfa = who('manager', ['pwd']);
    expect(() =>
      authorizeFlowWrite(noMfa, flow({ crm: hook }), flow({ crm: hook }, { status: 'draft' }), MFA),
    ).not.toThrow();
    expect(() => authorizeFlowWrite(noMfa, flow({ crm: hook }), flow({}), MFA)).not.toThrow();
    expect(() => authorizeFlowWrite(noMfa, flow({ crm: hook }), null, MFA)).not.toThrow();
    expect(() => authorizeFlowWrite(noMfa, null, flow({}), MFA)).not.toThrow();
  });
});

describe('describeFlowChange', () => {
  it('summarises for the audit log', () => {
    expect(describeFlowChange(null, flow({ crm: hook }))).toBe(
      'created the flow; creates webhook action crm',
    );
    expect(describeFlowChange(flow({ crm: hook }), flow({ crm: hook }, { status: 'manual' }))).toBe(
      'status live -> manual',
    );
    expect(describeFlowChange(flow({ crm: hook }), null)).toBe('deleted the flow');
  });
});

describe('bearer tokens and claims', () => {
  it('reads only "Bearer <token>"', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(() => bearerToken(undefined)).toThrow(
      expect.objectContaining({ code: 'FLOWHOOK_ERR_UNAUTHENTICATED' }),
    );
    expect(() => bearerToken('Basic dXNlcg==')).toThrow(
      expect.objectContaining({ code: 'FLOWHOOK_ERR_UNAUTHENTICATED' }),
    );
  });

  it('maps claims to a principal, ignoring malformed amr entries', () => {
    expect(
      principalFromClaims({ sub: 's', email: 'e@x', amr: ['otp', 3], acr: 'a', r: 'admin' }, 'r'),
    ).toEqual({
      subject: 's',
      email: 'e@x',
      role: 'admin',
      amr: ['otp'],
      acr: 'a',
    });
  });
});
