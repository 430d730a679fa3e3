"""Catalog objects to their wire shapes (prices embed their product, products their default price)."""

from __future__ import annotations

from kassa.catalog.models import Price, Product
from kassa.catalog.schemas import PriceOut, ProductOut, PublicPriceOut, PublicProductOut
from kassa.money import API_DECIMALS


def public_product(product: Product) -> PublicProductOut:
    return PublicProductOut(
        id=product.id,
        name=product.name,
        description=product.description,
        is_active=product.is_active,
        images=list(product.images),
        public_images=list(product.images),
        unit_label=product.unit_label,
        url=product.url,
        default_price_id=product.default_price_id,
        metadata=product.metadata_,
        visibility=product.visibility,
        created_at=product.created_at,
        updated_at=product.updated_at,
        organization_id=product.organization_id,
        livemode=product.mode == "live",
    )


def _price_fields(price: Price) -> dict[str, object]:
    return {
        "id": price.id,
        "currency": price.currency,
        "product_id": price.product_id,
        "type": price.type,
        "interval": price.interval,
        "interval_count": price.interval_count,
        "is_active": price.is_active,
        "unit_amount": price.unit_amount,
        "unit_amount_decimal": _decimal(price.unit_amount),
        "custom_unit_min": price.custom_unit_min,
        "custom_unit_max": price.custom_unit_max,
        "custom_preset": price.custom_preset,
        "custom_unit_amount_suggestions": price.custom_suggestions,
        "metadata": price.metadata_,
        "visibility": price.visibility,
        "nickname": price.nickname,
        "created_at": price.created_at,
        "updated_at": price.updated_at,
        "organization_id": price.organization_id,
        "livemode": price.mode == "live",
    }


def _decimal(amount: int | None) -> str | None:
    """The amount in whole units as an exact decimal string ("12.5" for 1250000000)."""
    if amount is None:
        return None
    whole, frac = divmod(amount, 10**API_DECIMALS)
    frac_text = f"{frac:0{API_DECIMALS}d}".rstrip("0")
    return f"{whole}.{frac_text}" if frac_text else str(whole)


def public_price(price: Price) -> PublicPriceOut:
    return PublicPriceOut.model_validate(_price_fields(price))


def price_out(price: Price, product: Product) -> PriceOut:
    return PriceOut.model_validate(_price_fields(price) | {"product": public_product(product)})


def product_out(product: Product, default_price: Price | None) -> ProductOut:
    fields = public_product(product).model_dump()
    # The contract's defaultPrice is a full price, itself carrying the (public) product.
    embedded = price_out(default_price, product) if default_price else None
    return ProductOut.model_validate(fields | {"default_price": embedded})
