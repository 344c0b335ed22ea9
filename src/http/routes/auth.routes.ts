import { createRoute } from '@hono/zod-openapi';
import { changeRole, getUser, login, registerUser } from '../../auth/auth.service';
import type { AppContext } from '../../context';
import { dataEnvelope } from '../envelope';
import { currentUser, requireRole, requireUser } from '../middleware/auth';
import { bearerSecurity, createRouter, errorResponses, jsonBody, jsonContent } from '../openapi';
import { idParam } from '../schemas/common';
import { LoginBody, LoginResult, RegisterBody, RoleBody, UserSchema } from '../schemas/user.schemas';

const register = createRoute({
  method: 'post',
  path: '/register',
  tags: ['Auth'],
  summary: 'Register a buyer or a seller',
  request: jsonBody(RegisterBody),
  responses: {
    201: jsonContent(dataEnvelope(UserSchema), 'The new user'),
    ...errorResponses('DUPLICATE_EMAIL'),
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

const me = createRoute({
  method: 'get',
  path: '/me',
  tags: ['Auth'],
  summary: 'The authenticated user',
  security: bearerSecurity,
  middleware: [requireUser] as const,
  responses: {
    200: jsonContent(dataEnvelope(UserSchema), 'The user'),
    ...errorResponses('UNAUTHORIZED', 'USER_NOT_FOUND'),
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
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'USER_NOT_FOUND'),
  },
});

/** Mounted at /auth. */
export function authRoutes(ctx: AppContext) {
  return createRouter()
    .openapi(register, async (c) => c.json({ data: await registerUser(ctx, c.req.valid('json')) }, 201))
    .openapi(loginRoute, async (c) => {
      const { email, password } = c.req.valid('json');
      return c.json({ data: await login(ctx, email, password) }, 200);
    })
    .openapi(me, async (c) => c.json({ data: await getUser(ctx, currentUser(c).id) }, 200));
}

/** Mounted at /admin/users. */
export function adminUserRoutes(ctx: AppContext) {
  return createRouter().openapi(setRole, async (c) => {
    const user = await changeRole(ctx, c.req.valid('param').id, c.req.valid('json').role);
    return c.json({ data: user }, 200);
  });
}
