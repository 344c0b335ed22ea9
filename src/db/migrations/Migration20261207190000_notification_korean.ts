import { Migration } from '@mikro-orm/migrations';

/**
 * Notifications in the reader's language: each keeps its Korean title and body beside the English
 * ones, and GET /notifications answers in the Accept-Language the error messages follow. Rows written
 * before have no Korean text and are shown in English.
 */
export class Migration20261207190000_notification_korean extends Migration {
  override name = 'Migration20261207190000_notification_korean';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "notifications" add column "title_ko" varchar(200) null, add column "body_ko" text null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "notifications" drop column "title_ko", drop column "body_ko";`);
  }
}
