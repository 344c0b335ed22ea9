import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { changePassword, changeRole, logout } from '../../auth/account-changes';
import { getUser, login, registerUser } from '../../auth/auth.service';
import type { AppContext } from '../../context';
import { clientAddress } from '../client-address';
import { dataEnvelope } from '../envelope';
import { currentUser, requireRole, requireUser } from '../middleware/auth';
import { noStore } from '../middleware/no-store';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { idParam } from '../schemas/common';
import {
  LoginBody,
  LoginResult,
  PasswordChangeBody,
  RegisterBody,
  RoleBody,
  UserSchema,
} from '../schemas/user.schemas';

const register = createRoute({
  method: 'post',
  path: '/register',
  tags: ['Auth'],
  summary: 'Register a buyer or a seller',
  description:
    'At most `REGISTER_MAX_PER_ADDRESS` (10) registrations per client address in `REGISTER_WINDOW_S` ' +
    '(600 s); one more answers 429 with `Retry-After`.',
  request: jsonBody(RegisterBody),
  responses: {
    201: jsonContent(dataEnvelope(UserSchema), 'The new user'),
    ...errorResponses('DUPLICATE_EMAIL', 'RATE_LIMITED'),
  },
});

const loginRoute = createRoute({
  method: 'post',
  path: '/login',
  tags: ['Auth'],
  summary: 'Exchange email and password for a bearer token',
  request: jsonBody(LoginBody),
  responses: {
    200: jsonContent(dataEnvelope(LoginResult), 'A JWT and the user'),
    ...errorResponses('UNAUTHORIZED', 'RATE_LIMITED'),
  },
});

const logoutRoute = createRoute({
  method: 'post',
  path: '/logout',
  tags: ['Auth'],
  summary: 'Revoke every token issued to the authenticated user so far',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  responses: {
    204: { description: 'Logged out: this token and every older one stop working' },
    ...errorResponses('UNAUTHORIZED'),
  },
});

const passwordRoute = createRoute({
  method: 'post',
  path: '/password',
  tags: ['Auth'],
  summary: 'Change the password (every older token stops working; a fresh one is returned)',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  request: jsonBody(PasswordChangeBody),
  responses: {
    200: jsonContent(dataEnvelope(LoginResult), 'A fresh JWT and the user'),
    ...errorResponses('UNAUTHORIZED', 'RATE_LIMITED'),
  },
});

const me = createRoute({
  method: 'get',
  path: '/me',
  tags: ['Auth'],
  summary: 'The authenticated user',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  responses: {
    200: jsonContent(dataEnvelope(UserSchema), 'The user'),
    ...errorResponses('UNAUTHORIZED', 'NOT_FOUND'),
  },
});

const setRole = createRoute({
  method: 'patch',
  path: '/{id}/role',
  tags: ['Admin'],
  summary: "Change a user's role",
  security: bearerSecurity,
  middleware: [requireRole('ADMIN')] as const,
  request: { params: idParam, ...jsonBody(RoleBody) },
  responses: {
    200: jsonContent(dataEnvelope(UserSchema), 'The user with the new role'),
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'LAST_ADMIN'),
  },
});

/** Mounted at /auth. Answers carry tokens or account data: never cached (Cache-Control: no-store). */
export function authRoutes(ctx: AppContext) {
  const address = (c: Context) => clientAddress(c, ctx.config.trustProxyHops);
  const router = createRouter();
  router.use('*', noStore);
  return router
    .openapi(register, async (c) => {
      return c.json({ data: await registerUser(ctx, c.req.valid('json'), address(c)) }, 201);
    })
    .openapi(loginRoute, async (c) => {
      const { email, password } = c.req.valid('json');
      return c.json({ data: await login(ctx, email, password, address(c)) }, 200);
    })
    .openapi(logoutRoute, async (c) => {
      await logout(ctx, currentUser(c).id);
      return c.body(null, 204);
    })
    .openapi(passwordRoute, async (c) => {
      const result = await changePassword(ctx, currentUser(c).id, c.req.valid('json'), address(c));
      return c.json({ data: result }, 200);
    })
    .openapi(me, async (c) => c.json({ data: await getUser(ctx, currentUser(c).id) }, 200));
}

/** Mounted at /admin/users. */
export function adminUserRoutes(ctx: AppContext) {
  const router = createRouter();
  router.use('*', noStore);
  return router.openapi(setRole, async (c) => {
    const { id } = c.req.valid('param');
    const user = await changeRole(ctx, currentUser(c).id, id, c.req.valid('json').role);
    return c.json({ data: user }, 200);
  });
}
