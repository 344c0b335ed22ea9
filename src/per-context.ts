/**
 * One instance per shop context, made on first use: a process's batchers, memos and gateway live as
 * long as its context (the server's, or each test's shop), and another context gets its own.
 */
export function perContext<Ctx extends object, T>(create: (ctx: Ctx) => T): (ctx: Ctx) => T {
  const instances = new WeakMap<Ctx, T>();
  return (ctx) => {
    let instance = instances.get(ctx);
    if (instance === undefined) {
      instance = create(ctx);
      instances.set(ctx, instance);
    }
    return instance;
  };
}
