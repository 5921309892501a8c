import { CofferError } from '@coffer/core';
import type { Command } from 'commander';
import { panelClient, readCard, writeCard } from '../locate.js';
import { collect, type Printer } from '../output.js';
import { getNewSecret, getSecret } from '../secrets.js';

interface Common {
  panel?: string;
  data?: string;
  pinFile?: string[];
  json?: boolean;
}

interface NewCardReply {
  slot: string;
  fileName: string;
  card: unknown;
}

const PIN_HELP = 'file holding a card PIN (repeat once per card, in card order)';

/** `coffer panel <step>`: every front-panel ceremony of manual §3 from a terminal. */
export function registerPanel(program: Command, print: Printer): void {
  const panel = program
    .command('panel')
    .description('perform front-panel ceremonies (manual §3) against a running device')
    .option(
      '--panel <url>',
      'front-panel URL (default: from --data DIR/run.json, else http://127.0.0.1:7010/)',
    )
    .option('--data <dir>', 'data directory of the device');

  const common = (c: Command) => ({ ...(panel.opts() as Common), ...(c.opts() as Common) });
  const client = (c: Command) => panelClient(common(c));
  const pin = (c: Command, index: number, label: string) =>
    getSecret({
      files: common(c).pinFile,
      index,
      env: index === 0 ? 'COFFER_PIN' : `COFFER_PIN_${index + 1}`,
      prompt: `${label} card PIN: `,
    });
  const newPin = (c: Command, label: string, fileOpt = 'newPinFile') =>
    getNewSecret({
      files: (c.opts() as Record<string, string | undefined>)[fileOpt]
        ? [(c.opts() as Record<string, string>)[fileOpt]!]
        : [],
      env: 'COFFER_NEW_PIN',
      prompt: `New PIN for the ${label} card (8 of 0-9/A-F, a digit and a letter): `,
    });
  const saveCard = (reply: NewCardReply, out: string | undefined) => {
    const path = out ?? reply.fileName;
    writeCard(path, reply.card);
    print.line(`card ${reply.slot} written to ${path}`, { slot: reply.slot, file: path });
  };

  panel
    .command('status')
    .description('state, indicators and fault of the device')
    .action(async (_o, c: Command) => print.value(await client(c).get('/api/status')));

  panel
    .command('device-info')
    .description('Device Info (§3.7)')
    .action(async (_o, c: Command) => print.value(await client(c).get('/api/device-info')));

  panel
    .command('init-time')
    .description('Init: Time Setting (default: now)')
    .option('--time <time>', 'date and time, e.g. 2026-12-04T15:30:00Z')
    .action(async (o: { time?: string }, c: Command) => {
      await client(c).post('/api/init/time', { time: o.time ?? new Date().toISOString() });
      print.line('time set');
    });

  panel
    .command('init-card')
    .description('Init Dev-Manager(Ax) - Set Card-PIN: make a new A card')
    .requiredOption('--slot <slot>', 'A1, A2 or A3')
    .option('--new-pin-file <file>', 'file holding the new card PIN')
    .option('--out <file>', 'where to write the card (default coffer-<slot>.card)')
    .action(async (o: { slot: string; out?: string }, c: Command) => {
      const [p, confirm] = await newPin(c, o.slot);
      saveCard(
        await client(c).post<NewCardReply>('/api/init/device-manager/card', {
          slot: o.slot,
          pin: p,
          pinConfirm: confirm,
        }),
        o.out,
      );
    });

  panel
    .command('init-mk-part')
    .description('Init Dev-Manager(Ax) - Set MK-Part: the 32-hex-digit component and its MK-Part-PIN')
    .requiredOption('--slot <slot>', 'A1, A2 or A3')
    .option('--mk-part-file <file>', 'file holding the 32 hex digits')
    .option('--mk-part-pin-file <file>', 'file holding the MK-Part-PIN')
    .action(async (o: { slot: string; mkPartFile?: string; mkPartPinFile?: string }, c: Command) => {
      const [mkPart, mkPartConfirm] = await getNewSecret({
        files: o.mkPartFile ? [o.mkPartFile] : [],
        env: 'COFFER_MK_PART',
        prompt: `MK-Part of ${o.slot} (32 hex digits): `,
      });
      const [mkPartPin, mkPartPinConfirm] = await getNewSecret({
        files: o.mkPartPinFile ? [o.mkPartPinFile] : [],
        env: 'COFFER_MK_PART_PIN',
        prompt: `MK-Part-PIN of ${o.slot}: `,
      });
      await client(c).post('/api/init/device-manager/mk-part', {
        slot: o.slot,
        mkPart,
        mkPartConfirm,
        mkPartPin,
        mkPartPinConfirm,
      });
      print.line(`MK part of ${o.slot} set`);
    });

  panel
    .command('init-write')
    .description('Init: Write — present an A card again; the device writes its share into it')
    .requiredOption('--card <file>', 'the A card file (rewritten in place unless --out)')
    .option('--pin-file <file>', PIN_HELP, collect, [])
    .option('--out <file>', 'where to write the written card')
    .action(async (o: { card: string; out?: string }, c: Command) => {
      const reply = await client(c).post<NewCardReply>('/api/init/device-manager/write', {
        card: readCard(o.card),
        pin: await pin(c, 0, 'Device Manager'),
      });
      saveCard(reply, o.out ?? o.card);
    });

  panel
    .command('init-manager')
    .description('Init Sys-Manager (B, several), Safe-Manager (C1) or Audit-Manager (D1)')
    .requiredOption('--role <role>', 'system, safe or audit')
    .option('--factor <hex>', 'System Manager only: the Factor, 8-32 hex digits')
    .option('--new-pin-file <file>', 'file holding the new card PIN')
    .option('--out <file>', 'where to write the card')
    .action(async (o: { role: string; factor?: string; out?: string }, c: Command) => {
      const role = roleOf(o.role);
      const [p, confirm] = await newPin(c, o.role);
      const path =
        role === 'system-manager'
          ? 'system-manager'
          : role === 'safe-manager'
            ? 'safe-manager'
            : 'audit-manager';
      const body =
        role === 'system-manager'
          ? { factor: o.factor ?? '', pin: p, pinConfirm: confirm }
          : { pin: p, pinConfirm: confirm };
      saveCard(await client(c).post<NewCardReply>(`/api/init/${path}`, body), o.out);
    });

  panel
    .command('init-finish')
    .description('All cards finished: commit the initialisation and restart')
    .action(async (_o, c: Command) => print.value(await client(c).post('/api/init/finish')));

  panel
    .command('init-cancel')
    .description('abandon the initialisation in progress')
    .action(async (_o, c: Command) => {
      await client(c).post('/api/init/cancel');
      print.line('initialisation cancelled');
    });

  panel
    .command('auth2boot')
    .description('Auth2Boot (§3.2): two different Device Manager cards')
    .requiredOption('--card <file>', 'a Device Manager card (give two)', collect, [])
    .option('--pin-file <file>', PIN_HELP, collect, [])
    .action(async (o: { card: string[] }, c: Command) => {
      if (o.card.length !== 2) throw new CofferError('ERR_BAD_REQUEST', 'Auth2Boot needs two --card files.');
      const api = client(c);
      const first = await api.post<{ token: string; slot: string }>('/api/auth2boot/first', {
        card: readCard(o.card[0]!),
        pin: await pin(c, 0, 'first Device Manager'),
      });
      print.line(`first card ${first.slot} verified`);
      print.value(
        await api.post('/api/auth2boot/second', {
          token: first.token,
          card: readCard(o.card[1]!),
          pin: await pin(c, 1, 'second Device Manager'),
        }),
      );
    });

  panel
    .command('reinit')
    .description('ReInit (§3.1.2): two Device Managers with card PIN and MK-Part-PIN; ALL DATA IS CLEARED')
    .requiredOption('--card <file>', 'a Device Manager card (give two)', collect, [])
    .option('--pin-file <file>', PIN_HELP, collect, [])
    .option('--mk-part-pin-file <file>', 'file holding an MK-Part-PIN (one per card, in order)', collect, [])
    .option('--yes', 'confirm that every key, operator, licence, whitelist entry and card is erased')
    .action(async (o: { card: string[]; mkPartPinFile: string[]; yes?: boolean }, c: Command) => {
      if (o.card.length !== 2) throw new CofferError('ERR_BAD_REQUEST', 'ReInit needs two --card files.');
      if (!o.yes)
        throw new CofferError(
          'ERR_BAD_REQUEST',
          'ReInit clears all data of the device and cannot be undone; add --yes to confirm.',
        );
      const api = client(c);
      const mkPin = (i: number) =>
        getSecret({
          files: o.mkPartPinFile,
          index: i,
          env: i === 0 ? 'COFFER_MK_PART_PIN' : 'COFFER_MK_PART_PIN_2',
          prompt: 'MK-Part-PIN: ',
        });
      const first = await api.post<{ token: string; slot: string }>('/api/reinit/first', {
        card: readCard(o.card[0]!),
        pin: await pin(c, 0, 'first Device Manager'),
        mkPartPin: await mkPin(0),
      });
      print.line(`first card ${first.slot} verified`);
      print.value(
        await api.post('/api/reinit/second', {
          token: first.token,
          card: readCard(o.card[1]!),
          pin: await pin(c, 1, 'second Device Manager'),
          mkPartPin: await mkPin(1),
        }),
      );
    });

  panel
    .command('remake')
    .description('Cards ReMake (§3.3): device (after its MK-Part-PIN), safe or audit; system is refused')
    .requiredOption('--role <role>', 'device, safe, audit (system cards cannot be remade)')
    .option('--slot <slot>', 'device: which A slot (found from the MK-Part-PIN when omitted)')
    .option('--mk-part-pin-file <file>', 'device: file holding the MK-Part-PIN')
    .option('--new-pin-file <file>', 'file holding the new card PIN')
    .option('--out <file>', 'where to write the new card')
    .action(async (o: { role: string; slot?: string; mkPartPinFile?: string; out?: string }, c: Command) => {
      const role = roleOf(o.role);
      const api = client(c);
      if (role === 'device-manager') {
        const mkPartPin = await getSecret({
          files: o.mkPartPinFile ? [o.mkPartPinFile] : [],
          env: 'COFFER_MK_PART_PIN',
          prompt: 'MK-Part-PIN of the card to remake: ',
        });
        const v = await api.post<{ token: string; slot: string }>('/api/remake/device-manager/verify', {
          mkPartPin,
          ...(o.slot ? { slot: o.slot } : {}),
        });
        const [p, confirm] = await newPin(c, v.slot);
        saveCard(
          await api.post<NewCardReply>('/api/remake/device-manager/card', {
            token: v.token,
            pin: p,
            pinConfirm: confirm,
          }),
          o.out,
        );
        return;
      }
      const path =
        role === 'system-manager'
          ? 'system-manager'
          : role === 'safe-manager'
            ? 'safe-manager'
            : 'audit-manager';
      const [p, confirm] = role === 'system-manager' ? ['', ''] : await newPin(c, o.role);
      saveCard(await api.post<NewCardReply>(`/api/remake/${path}`, { pin: p, pinConfirm: confirm }), o.out);
    });

  panel
    .command('modify-pin')
    .description('Modify Card-PIN (§3.4): the card is re-keyed; the old file stops working')
    .requiredOption('--card <file>', 'the card (rewritten in place unless --out)')
    .option('--pin-file <file>', 'file holding the old PIN', collect, [])
    .option('--new-pin-file <file>', 'file holding the new PIN')
    .option('--out <file>', 'where to write the new card')
    .action(async (o: { card: string; out?: string }, c: Command) => {
      const oldPin = await pin(c, 0, 'Old');
      const [p, confirm] = await newPin(c, 'this');
      saveCard(
        await client(c).post<NewCardReply>('/api/modify-pin', {
          card: readCard(o.card),
          oldPin,
          newPin: p,
          newPinConfirm: confirm,
        }),
        o.out ?? o.card,
      );
    });

  panel
    .command('start-service')
    .description('Start Service (§3.5): a System Manager card, then M-Net0 and A-Net1 settings')
    .requiredOption('--card <file>', 'a System Manager card')
    .option('--pin-file <file>', PIN_HELP, collect, [])
    .option('--m-ip <ip>', 'M-Net0 IP (management)', '127.0.0.1')
    .option('--m-port <port>', 'M-Net0 port', '1812')
    .option('--m-mask <mask>', 'M-Net0 subnet mask', '255.0.0.0')
    .option('--m-gateway <ip>', 'M-Net0 default gateway')
    .option('--a-ip <ip>', 'A-Net1 IP (crypto service)', '127.0.0.1')
    .option('--a-port <port>', 'A-Net1 port', '1813')
    .option('--a-mask <mask>', 'A-Net1 subnet mask', '255.0.0.0')
    .option('--a-gateway <ip>', 'A-Net1 default gateway')
    .action(async (o: Record<string, string>, c: Command) => {
      const api = client(c);
      const { token } = await api.post<{ token: string }>('/api/service/start/auth', {
        card: readCard(o['card']!),
        pin: await pin(c, 0, 'System Manager'),
      });
      const net = (p: 'm' | 'a') => ({
        ip: o[`${p}Ip`]!,
        port: Number(o[`${p}Port`]),
        mask: o[`${p}Mask`]!,
        gateway: o[`${p}Gateway`] ?? null,
      });
      print.value(await api.post('/api/service/start', { token, mNet0: net('m'), aNet1: net('a') }));
    });

  panel
    .command('stop-service')
    .description('Stop Service (§3.5): a System Manager card')
    .requiredOption('--card <file>', 'a System Manager card')
    .option('--pin-file <file>', PIN_HELP, collect, [])
    .action(async (o: { card: string }, c: Command) => {
      print.value(
        await client(c).post('/api/service/stop', {
          card: readCard(o.card),
          pin: await pin(c, 0, 'System Manager'),
        }),
      );
    });

  const settings = async (c: Command, card: string) => {
    const api = client(c);
    const { token } = await api.post<{ token: string }>('/api/settings/auth', {
      card: readCard(card),
      pin: await pin(c, 0, 'System Manager'),
    });
    return { api, token };
  };
  const withCard = (cmd: Command) =>
    cmd
      .requiredOption('--card <file>', 'a System Manager card')
      .option('--pin-file <file>', PIN_HELP, collect, []);

  withCard(panel.command('whitelist-list').description('Setting: Tool IP White list')).action(
    async (o: { card: string }, c: Command) => {
      const { api, token } = await settings(c, o.card);
      print.value(await api.get('/api/settings/tool-whitelist', token));
    },
  );
  withCard(
    panel
      .command('whitelist-add')
      .description('Setting: add an IP to the Tool IP White list')
      .argument('<ip>'),
  ).action(async (ip: string, o: { card: string }, c: Command) => {
    const { api, token } = await settings(c, o.card);
    await api.post('/api/settings/tool-whitelist', { ip }, token);
    print.line(`${ip} added to the tool white list`);
  });
  withCard(
    panel
      .command('whitelist-delete')
      .description('Setting: delete IPs from the Tool IP White list')
      .argument('<ips...>'),
  ).action(async (ips: string[], o: { card: string }, c: Command) => {
    const { api, token } = await settings(c, o.card);
    await api.post('/api/settings/tool-whitelist/delete', { ips }, token);
    print.line(`${ips.join(', ')} deleted from the tool white list`);
  });
  withCard(
    panel
      .command('set-time')
      .description('Setting: System Time')
      .requiredOption('--time <time>', 'e.g. 2026-12-04T15:30:00Z'),
  ).action(async (o: { card: string; time: string }, c: Command) => {
    const { api, token } = await settings(c, o.card);
    await api.post('/api/settings/time', { time: o.time }, token);
    print.line('system time set');
  });
  withCard(panel.command('restart').description('Setting: Power → Restart')).action(
    async (o: { card: string }, c: Command) => {
      const { api, token } = await settings(c, o.card);
      print.value(await api.post('/api/power/restart', {}, token));
    },
  );
  withCard(panel.command('shutdown').description('Setting: Power → ShutDown')).action(
    async (o: { card: string }, c: Command) => {
      const { api, token } = await settings(c, o.card);
      await api.post('/api/power/shutdown', {}, token);
      print.line('shutting down');
    },
  );
}

function roleOf(role: string) {
  const r = role.toLowerCase().replace(/-manager$/, '');
  if (r === 'device' || r === 'a') return 'device-manager' as const;
  if (r === 'system' || r === 'b') return 'system-manager' as const;
  if (r === 'safe' || r === 'c') return 'safe-manager' as const;
  if (r === 'audit' || r === 'd') return 'audit-manager' as const;
  throw new CofferError('ERR_BAD_REQUEST', `'${role}' is not a role: use device, system, safe or audit.`);
}
