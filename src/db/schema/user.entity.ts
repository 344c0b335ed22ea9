import { defineEntity, p } from '@mikro-orm/postgresql';
import { uuidv7 } from '../../ids';

export const ROLES = ['BUYER', 'SELLER', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

/** Buyers, sellers and admins in one table; the role column says which extra fields apply. */
export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => uuidv7()),
    email: p.string().length(254).unique(),
    name: p.string().length(100),
    passwordHash: p.text().hidden(),
    role: p.enum(ROLES).default('BUYER'),
    businessNumber: p.string().length(12).nullable(),
    intro: p.text().nullable(),
    adminCode: p.string().length(40).nullable(),
    balance: p.bigint('number').default(0),
    version: p.integer().version(),
    /** Tokens carry the version they were signed at; bumping it revokes every token issued so far. */
    tokenVersion: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  checks: [{ name: 'users_balance_non_negative', expression: 'balance >= 0' }],
});
export class User extends UserSchema.class {}
UserSchema.setClass(User);
