// A store's setup, run by the platform's setup Job after `medusa db:migrate`:
//
//   medusa exec ./src/scripts/setup.js
//
// Idempotent: every part is looked up first and made only when missing, so the Job can run
// again (a password reset re-runs it; the admin password converges to ADMIN_PASSWORD).
//
// Environment: ADMIN_EMAIL, ADMIN_PASSWORD (required); STORE_NAME; PUBLISHABLE_KEY (a
// "pk_" + 64 hex token generated once by the platform, so it can be an output of the store
// without reading it back from the database).
//
// What a store gets: the admin user; a region "United States" (USD) with the manual ("pay on
// delivery") payment provider; a tax region; the default sales channel; a stock location
// with a shipping fulfillment set and a flat "Standard Shipping" option; the publishable API
// key on the sales channel; "Sample Product" at $19.99 with 100 in stock.
import type { ExecArgs } from "@medusajs/framework/types"
import { ContainerRegistrationKeys, Modules, ProductStatus } from "@medusajs/framework/utils"
import {
  createDefaultsWorkflow,
  createInventoryLevelsWorkflow,
  createProductsWorkflow,
  createRegionsWorkflow,
  createShippingOptionsWorkflow,
  createShippingProfilesWorkflow,
  createStockLocationsWorkflow,
  createTaxRegionsWorkflow,
  linkSalesChannelsToApiKeyWorkflow,
  linkSalesChannelsToStockLocationWorkflow,
  updateStoresWorkflow,
} from "@medusajs/medusa/core-flows"

const COUNTRY = "us"
const CURRENCY = "usd"
const PRODUCT = { title: "Sample Product", handle: "sample-product", sku: "SAMPLE-PRODUCT", price: 19.99, stock: 100 }
const SHIPPING = { name: "Standard Shipping", price: 5 }

function need(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(`${name} must be set`)
  }
  return value
}

export default async function setup({ container }: ExecArgs) {
  const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
  const link = container.resolve(ContainerRegistrationKeys.LINK)
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const step = (what: string) => logger.info(`storekit setup: ${what}`)

  const email = need("ADMIN_EMAIL")
  const password = need("ADMIN_PASSWORD")
  const storeName = process.env.STORE_NAME || "Medusa Store"
  const publishableKey = process.env.PUBLISHABLE_KEY || ""
  if (publishableKey && !/^pk_[0-9a-f]{64}$/.test(publishableKey)) {
    throw new Error("PUBLISHABLE_KEY must be 'pk_' followed by 64 hex digits")
  }

  // The admin user, and its password (converged on every run).
  const users = container.resolve(Modules.USER)
  const auth = container.resolve(Modules.AUTH)
  const [existing] = await users.listUsers({ email })
  if (!existing) {
    step(`admin user ${email}`)
    const user = await users.createUsers({ email })
    const registered = await auth.register("emailpass", { body: { email, password } })
    if (!registered.success || !registered.authIdentity) {
      throw new Error(`registering the admin user failed: ${registered.error}`)
    }
    await auth.updateAuthIdentities({ id: registered.authIdentity.id, app_metadata: { user_id: user.id } })
  } else {
    step(`admin password of ${email}`)
    const updated = await auth.updateProvider("emailpass", { entity_id: email, password })
    if (!updated.success) {
      throw new Error(`setting the admin password failed: ${updated.error}`)
    }
  }

  // The default store and sales channel (Medusa's loaders make them; this is a no-op then).
  await createDefaultsWorkflow(container).run()
  const stores = container.resolve(Modules.STORE)
  const salesChannels = container.resolve(Modules.SALES_CHANNEL)
  const [store] = await stores.listStores({}, { relations: ["supported_currencies"] })
  const [channel] = await salesChannels.listSalesChannels({ id: store.default_sales_channel_id! })

  const regions = container.resolve(Modules.REGION)
  let [region] = await regions.listRegions({ name: "United States" })
  if (!region) {
    step("region United States (USD, manual payment)")
    const { result } = await createRegionsWorkflow(container).run({
      input: {
        regions: [{ name: "United States", currency_code: CURRENCY, countries: [COUNTRY],
                    payment_providers: ["pp_system_default"] }],
      },
    })
    region = result[0]
  }
  await updateStoresWorkflow(container).run({
    input: {
      selector: { id: store.id },
      update: {
        name: storeName,
        supported_currencies: [{ currency_code: CURRENCY, is_default: true }],
        default_sales_channel_id: channel.id,
        default_region_id: region.id,
      },
    },
  })

  const tax = container.resolve(Modules.TAX)
  if (!(await tax.listTaxRegions({ country_code: COUNTRY })).length) {
    step("tax region")
    await createTaxRegionsWorkflow(container).run({ input: [{ country_code: COUNTRY, provider_id: "tp_system" }] })
  }

  // Where the stock is and how it ships.
  const locations = container.resolve(Modules.STOCK_LOCATION)
  const fulfillment = container.resolve(Modules.FULFILLMENT)
  let [location] = await locations.listStockLocations({ name: "Warehouse" })
  if (!location) {
    step("stock location, fulfillment set, shipping option")
    const { result } = await createStockLocationsWorkflow(container).run({
      input: { locations: [{ name: "Warehouse", address: { address_1: "1 Main Street", city: "Springfield",
                                                            country_code: "US" } }] },
    })
    location = result[0]
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_provider_id: "manual_manual" },
    })
    await linkSalesChannelsToStockLocationWorkflow(container).run({ input: { id: location.id, add: [channel.id] } })
  }
  let [profile] = await fulfillment.listShippingProfiles({ type: "default" })
  if (!profile) {
    const { result } = await createShippingProfilesWorkflow(container).run({
      input: { data: [{ name: "Default Shipping Profile", type: "default" }] },
    })
    profile = result[0]
  }
  const { data: [located] } = await query.graph({
    entity: "stock_location", fields: ["id", "fulfillment_sets.id", "fulfillment_sets.service_zones.id"],
    filters: { id: location.id },
  })
  let zoneId = located?.fulfillment_sets?.[0]?.service_zones?.[0]?.id
  if (!zoneId) {
    const set = await fulfillment.createFulfillmentSets({
      name: "Warehouse shipping", type: "shipping",
      service_zones: [{ name: "United States", geo_zones: [{ country_code: COUNTRY, type: "country" }] }],
    })
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: location.id },
      [Modules.FULFILLMENT]: { fulfillment_set_id: set.id },
    })
    zoneId = set.service_zones[0].id
  }
  if (!(await fulfillment.listShippingOptions({ name: SHIPPING.name })).length) {
    await createShippingOptionsWorkflow(container).run({
      input: [{
        name: SHIPPING.name, price_type: "flat", provider_id: "manual_manual", service_zone_id: zoneId!,
        shipping_profile_id: profile.id,
        type: { label: "Standard", description: "Ships in 2-3 days.", code: "standard" },
        prices: [{ currency_code: CURRENCY, amount: SHIPPING.price }, { region_id: region.id, amount: SHIPPING.price }],
        rules: [{ attribute: "enabled_in_store", value: "true", operator: "eq" },
                { attribute: "is_return", value: "false", operator: "eq" }],
      }],
    })
  }

  // The publishable API key: Medusa's default one, carrying the token the platform generated.
  const apiKeys = container.resolve(Modules.API_KEY)
  const [key] = await apiKeys.listApiKeys({ type: "publishable" })
  if (publishableKey && key.token !== publishableKey) {
    step("publishable API key")
    const db = container.resolve(ContainerRegistrationKeys.PG_CONNECTION)
    await db("api_key").where({ id: key.id }).update({
      token: publishableKey, redacted: `${publishableKey.slice(0, 6)}***${publishableKey.slice(-3)}`,
      title: `${storeName} storefront`,
    })
  }
  const { data: [keyed] } = await query.graph({ entity: "api_key", fields: ["id", "sales_channels.id"],
                                                filters: { id: key.id } })
  if (!keyed?.sales_channels?.some((c: { id: string } | null) => c?.id === channel.id)) {
    await linkSalesChannelsToApiKeyWorkflow(container).run({ input: { id: key.id, add: [channel.id] } })
  }

  // The product, with stock at the location.
  const products = container.resolve(Modules.PRODUCT)
  if (!(await products.listProducts({ handle: PRODUCT.handle })).length) {
    step(`${PRODUCT.title} at $${PRODUCT.price}`)
    await createProductsWorkflow(container).run({
      input: {
        products: [{
          title: PRODUCT.title, handle: PRODUCT.handle, status: ProductStatus.PUBLISHED,
          description: "The product every storekit store starts with.", shipping_profile_id: profile.id,
          options: [{ title: "Default", values: ["Default"] }],
          variants: [{ title: "Default", sku: PRODUCT.sku, options: { Default: "Default" }, manage_inventory: true,
                       prices: [{ amount: PRODUCT.price, currency_code: CURRENCY }] }],
          sales_channels: [{ id: channel.id }],
        }],
      },
    })
  }
  const { data: [item] } = await query.graph({ entity: "inventory_item", fields: ["id", "location_levels.location_id"],
                                               filters: { sku: PRODUCT.sku } })
  if (item && !item.location_levels?.some((l: { location_id: string } | null) => l?.location_id === location.id)) {
    await createInventoryLevelsWorkflow(container).run({
      input: { inventory_levels: [{ inventory_item_id: item.id, location_id: location.id,
                                    stocked_quantity: PRODUCT.stock }] },
    })
  }
  step("store ready")
}
