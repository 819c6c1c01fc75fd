/**
 * /schedules: the runners file's schedules, their next and latest ticks; pause, resume and a
 * manual trigger. Each handler is a schema and a service call.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ScheduleDetail, ScheduleList, ScheduleNameParams, ScheduleTriggered } from '../../tasks/schedule-schemas.ts';
import type { ScheduleService } from '../../tasks/schedule-service.ts';

const ErrorRef = Type.Ref('ErrorResponse');

export const scheduleRoutes: FastifyPluginAsyncTypebox<{ schedules: ScheduleService }> = async (app, { schedules }) => {
  app.get('/schedules', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['schedules'],
      summary: 'List the schedules',
      description: 'Each with its definition, its next five ticks, its latest tick and whether it is paused.',
      response: { 200: ScheduleList },
    },
  }, async (request) => ({ items: await schedules.list(request.access) }));

  app.get('/schedules/:name', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['schedules'],
      summary: 'Read a schedule: its next ticks and its latest ones',
      description: 'A tick is started (the task or run it started, and its status now), skipped (overlap: skip, while the last run ' +
        'was not final) or failed (what it would start was refused). missed counts the ticks one stands for after an outage (missed: once).',
      params: ScheduleNameParams,
      response: { 200: ScheduleDetail, 404: ErrorRef },
    },
  }, async (request) => schedules.get(request.params.name, request.access));

  app.post('/schedules/:name/pause', {
    config: { scope: 'admin' },
    schema: {
      tags: ['schedules'],
      summary: 'Pause a schedule',
      description: 'A paused schedule fires no tick until resumed; the pause survives restarts. Pausing a paused schedule changes nothing.',
      params: ScheduleNameParams,
      response: { 200: ScheduleDetail, 404: ErrorRef },
    },
  }, async (request) => schedules.pause(request.params.name, request.access));

  app.post('/schedules/:name/resume', {
    config: { scope: 'admin' },
    schema: {
      tags: ['schedules'],
      summary: 'Resume a paused schedule',
      description: 'It fires again from its next tick after now; the ticks of the pause are not made up for.',
      params: ScheduleNameParams,
      response: { 200: ScheduleDetail, 404: ErrorRef },
    },
  }, async (request) => schedules.resume(request.params.name, request.access));

  app.post('/schedules/:name/trigger', {
    config: { scope: 'admin' },
    schema: {
      tags: ['schedules'],
      summary: 'Start one run of a schedule now, outside its clock',
      description: 'Starts what the schedule starts, with its input, whether or not it is paused or its last run is final. ' +
        '202 means the task or run is stored; its scheduledFor is the time of the trigger. 409 SCHEDULE_REFUSED: what the ' +
        'schedule starts is not in this process\'s runners file (or its input no longer suits it); nothing was queued.',
      params: ScheduleNameParams,
      response: { 202: ScheduleTriggered, 404: ErrorRef, 409: ErrorRef, 503: ErrorRef },
    },
  }, async (request, reply) => reply.code(202).send(await schedules.trigger(request.params.name, request.access)));
};
