CREATE TABLE `sequence_ceilings` (
	`id` char(64) NOT NULL,
	`type` enum('private','group') NOT NULL,
	`part_a` varchar(256) NOT NULL,
	`part_b` varchar(256),
	`ceiling` bigint unsigned NOT NULL,
	`updated_at` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `sequence_ceilings_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `sequence_epoch` (
	`id` tinyint NOT NULL,
	`epoch` bigint unsigned NOT NULL,
	`redis_identity` varchar(1024) NOT NULL,
	`updated_at` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `sequence_epoch_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `sequence_ceilings_type_id` ON `sequence_ceilings` (`type`,`id`);