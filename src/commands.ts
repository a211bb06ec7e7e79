/**
 * Command ids, registered once in the plugin and reused by the palette,
 * the sidebar buttons and (later) context menus.
 */
export namespace CommandIDs {
  export const openSidebar = 'coffea-casa:open-sidebar';
  export const newCluster = 'coffea-casa:new-cluster';
}

/** Palette category of every coffea-casa command. */
export const PALETTE_CATEGORY = 'coffea-casa';
