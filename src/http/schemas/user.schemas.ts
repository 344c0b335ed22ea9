import { z } from '@hono/zod-openapi';
import { ROLES } from '../../db/schema/user.entity';

const BUSINESS_NUMBER = /^(\d{3}-\d{2}-\d{5}|\d{10})$/;

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    name: z.string(),
    role: z.enum(ROLES),
    businessNumber: z.string().optional(),
    intro: z.string().optional(),
    createdAt: z.string(),
  })
  .openapi('User');

export const RegisterBody = z
  .object({
    email: z.email().max(254),
    password: z.string().min(8).max(128),
    name: z.string().trim().min(1).max(100),
    role: z.enum(['BUYER', 'SELLER']).default('BUYER'),
    businessNumber: z
      .string()
      .regex(BUSINESS_NUMBER, 'must be NNN-NN-NNNNN or 10 digits')
      .optional()
      .openapi({ example: '123-45-67890' }),
    intro: z.string().max(2000).optional(),
  })
  .refine((b) => b.role !== 'SELLER' || b.businessNumber !== undefined, {
    path: ['businessNumber'],
    message: 'required for a SELLER',
  })
  .openapi('Registration');

export const LoginBody = z
  .object({ email: z.string().min(1).max(254), password: z.string().min(1).max(128) })
  .openapi('Login');

export const LoginResult = z.object({ token: z.string(), user: UserSchema }).openapi('LoginResult');

export const RoleBody = z.object({ role: z.enum(ROLES) }).openapi('RoleChange');
