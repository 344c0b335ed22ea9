import { z } from '@hono/zod-openapi';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, weakPasswordReason } from '../../auth/password-policy';
import { ROLES } from '../../db/schema/user.entity';
import { text } from '../../validation/text';

/** A new password: API.md's 8…128 characters, not blank, not one of the common passwords. */
const newPassword = text()
  .min(PASSWORD_MIN_LENGTH)
  .max(PASSWORD_MAX_LENGTH)
  .superRefine((password, check) => {
    const reason = weakPasswordReason(password);
    if (reason) check.addIssue({ code: 'custom', message: reason });
  });

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
    password: newPassword,
    name: text().trim().min(1).max(100),
    role: z.enum(['BUYER', 'SELLER']).default('BUYER'),
    businessNumber: z
      .string()
      .regex(BUSINESS_NUMBER, 'must be NNN-NN-NNNNN or 10 digits')
      .optional()
      .openapi({ example: '123-45-67890' }),
    intro: text().max(2000).optional(),
  })
  .refine((b) => b.role !== 'SELLER' || b.businessNumber !== undefined, {
    path: ['businessNumber'],
    message: 'required for a SELLER',
  })
  .openapi('Registration');

export const LoginBody = z
  .object({ email: text().min(1).max(254), password: text().min(1).max(128) })
  .openapi('Login');

export const PasswordChangeBody = z
  .object({ currentPassword: text().min(1).max(PASSWORD_MAX_LENGTH), newPassword })
  .openapi('PasswordChange');

export const LoginResult = z.object({ token: z.string(), user: UserSchema }).openapi('LoginResult');

export const RoleBody = z.object({ role: z.enum(ROLES) }).openapi('RoleChange');
